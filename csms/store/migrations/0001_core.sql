-- Core schema: stations, EVSEs and connectors, ID tokens, transactions and their events,
-- meter values. Timestamps are timestamptz; text identifiers follow the OCPP field lengths.

CREATE TABLE stations (
    id                  text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 48 AND position(':' IN id) = 0),
    password_hash       text,
    security_profile    smallint NOT NULL DEFAULT 1 CHECK (security_profile BETWEEN 0 AND 3),
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- what the station reported in its last BootNotification
    vendor_name         text,
    model               text,
    serial_number       text,
    firmware_version    text,
    modem_iccid         text,
    modem_imsi          text,
    boot_reason         text,
    boot_status         text CHECK (boot_status IN ('Accepted', 'Pending', 'Rejected')),
    last_boot_at        timestamptz,
    last_heartbeat_at   timestamptz,
    -- connection state, written by the server node that holds the station's socket
    node_id             text,
    subprotocol         text,
    remote_address      text,
    connected_at        timestamptz,
    disconnected_at     timestamptz
);

CREATE TABLE evses (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id             integer NOT NULL CHECK (evse_id >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, evse_id)
);

CREATE TABLE connectors (
    station_id          text NOT NULL,
    evse_id             integer NOT NULL,
    connector_id        integer NOT NULL CHECK (connector_id >= 0),
    status              text NOT NULL,
    -- the station's timestamp of the status; an older StatusNotification never overwrites a newer one
    status_at           timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, evse_id, connector_id),
    FOREIGN KEY (station_id, evse_id) REFERENCES evses (station_id, evse_id) ON DELETE CASCADE
);

CREATE TABLE id_tokens (
    id_token            text NOT NULL CHECK (length(id_token) <= 255),
    token_type          text NOT NULL,
    status              text NOT NULL DEFAULT 'Accepted'
                        CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid', 'NoCredit',
                                          'NotAllowedTypeEVSE', 'NotAtThisLocation', 'NotAtThisTime')),
    group_id_token      text,
    group_token_type    text,
    expires_at          timestamptz,
    language            text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id_token, token_type)
);
-- idToken is case insensitive (OCPP IdTokenType): one row per token value and type, any case.
CREATE UNIQUE INDEX id_tokens_value ON id_tokens (lower(id_token), token_type);
CREATE INDEX id_tokens_group ON id_tokens (group_id_token) WHERE group_id_token IS NOT NULL;

-- One row per transaction, derived from its TransactionEvents applied in seqNo order.
CREATE TABLE transactions (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    transaction_id      text NOT NULL CHECK (length(transaction_id) <= 36),
    evse_id             integer,
    connector_id        integer,
    id_token            text,
    id_token_type       text,
    stop_id_token       text,
    stop_id_token_type  text,
    remote_start_id     integer,
    reservation_id      integer,
    started_at          timestamptz,
    ended_at            timestamptz,
    stopped_reason      text,
    charging_state      text,
    last_trigger_reason text,
    -- seqNo of the newest event applied to the live fields above (evse, charging state, ...)
    last_seq_no         integer,
    last_event_at       timestamptz,
    -- true when at least one event of the transaction arrived with offline = true
    offline             boolean NOT NULL DEFAULT false,
    -- energy registers (Wh) at the earliest and latest sample seen, with the sample times
    energy_import_start double precision,
    energy_import_start_at timestamptz,
    energy_import_end   double precision,
    energy_import_end_at timestamptz,
    energy_export_start double precision,
    energy_export_start_at timestamptz,
    energy_export_end   double precision,
    energy_export_end_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, transaction_id)
);
CREATE INDEX transactions_started ON transactions (started_at);
CREATE INDEX transactions_active ON transactions (station_id, evse_id) WHERE ended_at IS NULL;

-- Every TransactionEvent as received; (station, transaction, seqNo) makes a retry a no-op.
CREATE TABLE transaction_events (
    station_id          text NOT NULL,
    transaction_id      text NOT NULL,
    seq_no              integer NOT NULL CHECK (seq_no >= 0),
    event_type          text NOT NULL CHECK (event_type IN ('Started', 'Updated', 'Ended')),
    timestamp           timestamptz NOT NULL,
    trigger_reason      text NOT NULL,
    offline             boolean NOT NULL DEFAULT false,
    charging_state      text,
    stopped_reason      text,
    evse_id             integer,
    connector_id        integer,
    id_token            text,
    id_token_type       text,
    -- the request without its meterValue list (those are rows in meter_values)
    payload             jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, transaction_id, seq_no),
    FOREIGN KEY (station_id, transaction_id)
        REFERENCES transactions (station_id, transaction_id) ON DELETE CASCADE
);

-- One row per sampled value, from MeterValues and TransactionEvent. No foreign key, so that
-- bulk loads (COPY) stay cheap; removing a station deletes its rows explicitly.
-- value is scaled by unitOfMeasure.multiplier (value * 10^multiplier) and is in `unit`.
CREATE TABLE meter_values (
    station_id          text NOT NULL,
    evse_id             integer,             -- 0: main meter; NULL: EVSE not (yet) known
    transaction_id      text,
    timestamp           timestamptz NOT NULL,
    measurand           text NOT NULL,
    phase               text,
    location            text NOT NULL,
    unit                text,
    context             text NOT NULL,
    value               double precision NOT NULL,
    signed_meter_value  jsonb,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_values_station_time ON meter_values (station_id, timestamp);
CREATE INDEX meter_values_transaction ON meter_values (station_id, transaction_id, timestamp)
    WHERE transaction_id IS NOT NULL;
CREATE INDEX meter_values_time_brin ON meter_values USING brin (timestamp);
