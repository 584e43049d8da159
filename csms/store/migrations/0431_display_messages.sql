-- Display messages (O01-O06): what the CSMS set on each station's display, and what the
-- station reported of it.

CREATE TABLE display_messages (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    message_id          integer NOT NULL CHECK (message_id >= 0),
    priority            text NOT NULL,
    state               text,
    starts_at           timestamptz,
    ends_at             timestamptz,
    transaction_id      text,
    format              text NOT NULL,
    language            text,
    content             text NOT NULL,
    -- the display (ComponentType) it is meant for; NULL: every display of the station
    display             jsonb,
    -- who set it: an operator (csms display set, csms call), the grid dispatcher (a driver's
    -- event earnings), or nobody known to this CSMS (found in the station's report)
    origin              text NOT NULL CHECK (origin IN ('operator', 'grid', 'station')),
    -- active: the station has it; cleared: removed with ClearDisplayMessage; gone: the
    -- station no longer has it (left out of its report, or unknown to it when cleared)
    status              text NOT NULL CHECK (status IN ('active', 'cleared', 'gone')),
    -- when the station accepted it (SetDisplayMessage), and last listed it (NotifyDisplayMessages)
    set_at              timestamptz,
    reported_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, message_id)
);

-- NotifyDisplayMessages as received: the parts of a station's answer to GetDisplayMessages,
-- numbered in arrival order (the message has no seqNo; a station sends one part at a time).
CREATE TABLE display_message_reports (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    part                integer NOT NULL,
    tbc                 boolean NOT NULL,
    message_info        jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id, part)
);

-- A program may show each driver taking part in an event what they have earned so far
-- (csms programs add --display-message TEMPLATE); NULL: no message.
ALTER TABLE grid_programs ADD COLUMN display_message text
    CHECK (length(display_message) BETWEEN 1 AND 512);
