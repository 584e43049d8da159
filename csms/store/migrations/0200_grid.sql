-- Grid events: demand-response programs, events (with de-duplication of imported dispatches),
-- the EVs taking part in each event, the dispatcher's control steps, driver settings and
-- station groups.

CREATE TABLE grid_programs (
    name                text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    -- the program's rules (csms.grid.model.Program fields other than the name)
    settings            jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grid_station_groups (
    group_name          text NOT NULL CHECK (length(group_name) BETWEEN 1 AND 64),
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, station_id)
);

CREATE TABLE grid_events (
    id                  bigserial PRIMARY KEY,
    program             text NOT NULL REFERENCES grid_programs (name),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL CHECK (ends_at > starts_at),
    -- NULL: as much as possible
    target_kw           double precision CHECK (target_kw IS NULL OR target_kw >= 0),
    nomination_kw       double precision,
    station_group       text,
    status              text NOT NULL DEFAULT 'scheduled'
                        CHECK (status IN ('scheduled', 'active', 'completed', 'cancelled')),
    -- <dispatch id>/<timeslot index> for imported dispatches: importing again updates the event
    external_id         text UNIQUE,
    dispatch            jsonb,
    -- grows with every change; the dispatcher applies a change at its next control step
    revision            integer NOT NULL DEFAULT 0,
    -- the capacity forecast when the event was created or changed
    forecast_kw         double precision,
    firm_kw             double precision,
    shortfall_kw        double precision,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    activated_at        timestamptz,
    finished_at         timestamptz,
    note                text
);
CREATE INDEX grid_events_open ON grid_events (starts_at) WHERE status IN ('scheduled', 'active');

-- The EVs (one per station EVSE and transaction) in an event, with what became of them.
CREATE TABLE grid_event_evs (
    event_id            bigint NOT NULL REFERENCES grid_events (id) ON DELETE CASCADE,
    station_id          text NOT NULL,
    evse_id             integer NOT NULL,
    transaction_id      text NOT NULL,
    id_token            text,
    version             text NOT NULL,
    -- in: takes part; excluded: never did (reason); set_aside: stopped taking part (reason)
    state               text NOT NULL CHECK (state IN ('in', 'excluded', 'set_aside')),
    reason              text,
    soc_start           double precision,
    floor_soc           double precision,
    departure_at        timestamptz,
    departure_soc       double precision,
    capacity_kwh        double precision,
    nameplate_kw        double precision,
    setpoint_kw         double precision,
    profile_id          integer,
    -- SampledDataCtrlr.TxUpdatedInterval before the event raised it, restored at the end
    meter_interval_restore text,
    finished            boolean NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, station_id, evse_id)
);

-- One row per control step of an event: what was asked, measured and decided.
CREATE TABLE grid_control_steps (
    event_id            bigint NOT NULL REFERENCES grid_events (id) ON DELETE CASCADE,
    step                integer NOT NULL,
    at                  timestamptz NOT NULL,
    target_kw           double precision,
    measured_kw         double precision,
    planned_kw          double precision,
    capacity_kw         double precision,
    shortfall_kw        double precision,
    correction_kw       double precision,
    setpoints           jsonb NOT NULL,
    set_aside           jsonb NOT NULL,
    PRIMARY KEY (event_id, step)
);

-- A driver's wishes, for the vehicle behind a token or at a station.
CREATE TABLE grid_driver_settings (
    kind                text NOT NULL CHECK (kind IN ('token', 'station')),
    key                 text NOT NULL,
    floor_soc           double precision CHECK (floor_soc BETWEEN 0 AND 1),
    departure           time,
    timezone            text NOT NULL DEFAULT 'UTC',
    need_soc            double precision CHECK (need_soc BETWEEN 0 AND 1),
    need_kwh            double precision CHECK (need_kwh >= 0),
    capacity_kwh        double precision CHECK (capacity_kwh > 0),
    opt_out             boolean NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

-- Opting out of one event.
CREATE TABLE grid_event_opt_outs (
    event_id            bigint NOT NULL REFERENCES grid_events (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('token', 'station')),
    key                 text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, kind, key)
);
