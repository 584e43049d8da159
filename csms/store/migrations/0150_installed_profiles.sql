-- What the CSMS believes is installed on each station: the charging profiles it set and the
-- station accepted, and the profiles stations reported (ReportChargingProfiles). External limits
-- (NotifyChargingLimit) stay in charging_limits and are read beside this table.

CREATE TABLE installed_charging_profiles (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    profile_id          integer NOT NULL,
    evse_id             integer NOT NULL CHECK (evse_id >= 0),
    -- chargingLimitSource: CSO for what the CSMS set, EMS / SO / Other for external actors
    source              text NOT NULL DEFAULT 'CSO',
    -- 'set': accepted answer to our SetChargingProfile; 'report': seen in ReportChargingProfiles
    origin              text NOT NULL CHECK (origin IN ('set', 'report')),
    -- the OCPP version whose wire form `profile` is in
    version             text NOT NULL CHECK (version IN ('2.0.1', '2.1')),
    purpose             text NOT NULL,
    stack_level         integer NOT NULL,
    transaction_id      text,
    profile             jsonb NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, profile_id)
);

-- A SetChargingProfile sent as a command but not yet answered. Once the command has an outcome
-- the row moves to installed_charging_profiles (status Accepted) or is dropped (anything else),
-- so that a rejected profile is never taken for installed.
CREATE TABLE pending_charging_profiles (
    command_id          bigint PRIMARY KEY REFERENCES commands (id) ON DELETE CASCADE,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    evse_id             integer NOT NULL CHECK (evse_id >= 0),
    version             text NOT NULL CHECK (version IN ('2.0.1', '2.1')),
    profile             jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_charging_profiles_station ON pending_charging_profiles (station_id);

-- Ids of the profiles the CSMS creates (charging profile ids are 32-bit integers). Started high
-- so that ids chosen by hand (csms call) rarely meet them.
CREATE SEQUENCE charging_profile_ids START 100000 MAXVALUE 2147483647 CYCLE;
