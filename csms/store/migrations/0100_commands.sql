-- Server nodes and the operator commands routed through them.
--
-- A `csms serve` process is a node. An operator command (a CSMS-initiated OCPP call) is a row in
-- `commands`; the CLI inserts it and NOTIFYs channel csms_command; the node holding the
-- station's socket claims it, sends the call, stores the answer and NOTIFYs csms_command_done.

CREATE TABLE nodes (
    node_id         text PRIMARY KEY,
    hostname        text NOT NULL,
    pid             integer NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    heartbeat_at    timestamptz NOT NULL DEFAULT now(),
    stopped_at      timestamptz
);

CREATE TABLE commands (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL,
    action              text NOT NULL,
    payload             jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'answered', 'error', 'timeout',
                                          'offline', 'expired')),
    -- a queued command waits for the station until this time; NULL: only while it is online
    queue_until         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    answered_at         timestamptz,
    node_id             text,
    response            jsonb,
    error_code          text,
    error_description   text
);
CREATE INDEX commands_pending ON commands (station_id, id) WHERE status = 'pending';
