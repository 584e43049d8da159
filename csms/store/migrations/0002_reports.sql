-- What stations report besides transactions: device model, events, security events,
-- firmware/log status, customer information, monitoring, data transfer, smart-charging reports,
-- certificate requests, and a catch-all for the rarer 2.1 notifications.

-- The device model as reported by NotifyReport (and later GetVariables / SetVariables).
-- '' stands for "no instance" and 0 for "no EVSE / connector" so the key needs no NULLs.
CREATE TABLE variable_attributes (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    component_name      text NOT NULL,
    component_instance  text NOT NULL DEFAULT '',
    evse_id             integer NOT NULL DEFAULT 0,
    connector_id        integer NOT NULL DEFAULT 0,
    variable_name       text NOT NULL,
    variable_instance   text NOT NULL DEFAULT '',
    attribute_type      text NOT NULL DEFAULT 'Actual',
    value               text,
    mutability          text,
    persistent          boolean,
    constant            boolean,
    -- variableCharacteristics: unit, dataType, minLimit, maxLimit, valuesList, supportsMonitoring
    characteristics     jsonb,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, component_name, component_instance, evse_id, connector_id,
                 variable_name, variable_instance, attribute_type)
);

-- Parts of multi-part reports (NotifyReport, NotifyMonitoringReport, ReportChargingProfiles): which seqNo of which request arrived, and whether more follow.
CREATE TABLE report_parts (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    kind                text NOT NULL,
    request_id          integer NOT NULL,
    seq_no              integer NOT NULL,
    tbc                 boolean NOT NULL DEFAULT false,
    generated_at        timestamptz,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, kind, request_id, seq_no)
);

CREATE TABLE station_events (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    event_id            integer NOT NULL,
    timestamp           timestamptz NOT NULL,
    trigger             text NOT NULL,
    cause               integer,
    actual_value        text NOT NULL,
    tech_code           text,
    tech_info           text,
    cleared             boolean,
    transaction_id      text,
    variable_monitoring_id integer,
    event_notification_type text NOT NULL,
    component_name      text NOT NULL,
    component_instance  text,
    evse_id             integer,
    connector_id        integer,
    variable_name       text NOT NULL,
    variable_instance   text,
    -- 2.1 additions (severity, preconditions, ...) and customData, as received
    extra               jsonb,
    -- the NotifyEvent part it came in: a repeated part (same generatedAt and seqNo) is skipped
    generated_at        timestamptz NOT NULL,
    seq_no              integer NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_events_station_time ON station_events (station_id, timestamp);
CREATE INDEX station_events_part ON station_events (station_id, generated_at, seq_no);

CREATE TABLE security_events (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    type                text NOT NULL,
    timestamp           timestamptz NOT NULL,
    tech_info           text,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_station_time ON security_events (station_id, timestamp);

-- FirmwareStatusNotification, PublishFirmwareStatusNotification and LogStatusNotification.
CREATE TABLE status_notifications (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('firmware', 'publish_firmware', 'log')),
    status              text NOT NULL,
    request_id          integer,
    status_info         jsonb,
    details             jsonb,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_notifications_station ON status_notifications (station_id, kind, id);

CREATE TABLE customer_information (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    seq_no              integer NOT NULL,
    tbc                 boolean NOT NULL DEFAULT false,
    generated_at        timestamptz NOT NULL,
    data                text NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id, seq_no)
);

-- One row per monitored variable of a NotifyMonitoringReport part.
CREATE TABLE monitoring_reports (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    seq_no              integer NOT NULL,
    position            integer NOT NULL,
    component_name      text NOT NULL,
    component_instance  text,
    evse_id             integer,
    connector_id        integer,
    variable_name       text NOT NULL,
    variable_instance   text,
    monitors            jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id, seq_no, position)
);

CREATE TABLE data_transfers (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    vendor_id           text NOT NULL,
    message_id          text,
    data                jsonb,
    answer_status       text NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);

-- NotifyEVChargingNeeds: what the EV asked for, with the fields dispatch reads most.
CREATE TABLE ev_charging_needs (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id             integer NOT NULL,
    requested_energy_transfer text NOT NULL,
    departure_time      timestamptz,
    max_schedule_tuples integer,
    charging_needs      jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ev_charging_needs_station ON ev_charging_needs (station_id, evse_id, id);

CREATE TABLE ev_charging_schedules (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id             integer NOT NULL,
    time_base           timestamptz NOT NULL,
    charging_schedule   jsonb NOT NULL,
    extra               jsonb,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ev_charging_schedules_station ON ev_charging_schedules (station_id, evse_id, id);

-- NotifyChargingLimit; ClearedChargingLimit sets cleared_at on the open rows of that source.
CREATE TABLE charging_limits (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id             integer,
    charging_limit_source text NOT NULL,
    is_grid_critical    boolean,
    charging_limit      jsonb NOT NULL,
    charging_schedules  jsonb,
    received_at         timestamptz NOT NULL DEFAULT now(),
    cleared_at          timestamptz
);
CREATE INDEX charging_limits_open ON charging_limits (station_id, charging_limit_source)
    WHERE cleared_at IS NULL;

-- One row per profile reported by ReportChargingProfiles.
CREATE TABLE reported_charging_profiles (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    charging_limit_source text NOT NULL,
    evse_id             integer NOT NULL,
    profile_id          integer NOT NULL,
    stack_level         integer,
    purpose             text,
    profile             jsonb NOT NULL,
    tbc                 boolean NOT NULL DEFAULT false,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reported_charging_profiles_request
    ON reported_charging_profiles (station_id, request_id);

-- SignCertificate, Get15118EVCertificate, GetCertificateStatus, GetCertificateChainStatus.
CREATE TABLE certificate_requests (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    action              text NOT NULL,
    request             jsonb NOT NULL,
    answer_status       text NOT NULL,
    reason              text,
    received_at         timestamptz NOT NULL DEFAULT now()
);

-- Notifications kept as received: the 2.1 actions (DER alarms, settlements, battery swaps,
-- periodic event streams, ...) and 2.0.1 NotifyDisplayMessages / ReservationStatusUpdate.
CREATE TABLE station_notifications (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    action              text NOT NULL,
    payload             jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_notifications_station ON station_notifications (station_id, action, id);

-- Periodic event streams opened by a station (2.1): the constant part of each stream.
CREATE TABLE periodic_event_streams (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    stream_id           integer NOT NULL,
    variable_monitoring_id integer NOT NULL,
    params              jsonb,
    opened_at           timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz,
    PRIMARY KEY (station_id, stream_id)
);
