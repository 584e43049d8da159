-- Site load management (csms/grid/site_control.py): the ChargingStationMaxProfile the site
-- controller keeps on each station of a site, and its latest plan per site and per EVSE.

-- One row per station the controller has capped (or tried to): the profile id it uses there
-- (taken once from charging_profile_ids), the cap it wants, the cap the station accepted last
-- (NULL: none accepted), and how the last call went.
CREATE TABLE grid_site_caps (
    station_id          text PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
    profile_id          integer NOT NULL,
    wanted_kw           double precision NOT NULL CHECK (wanted_kw >= 0),
    installed_kw        double precision CHECK (installed_kw >= 0),
    -- accepted: the station holds wanted_kw; pending: not delivered (offline, timeout), retried;
    -- refused: rejected or invalid (reason), retried after a while
    status              text NOT NULL CHECK (status IN ('accepted', 'pending', 'refused')),
    reason              text,
    attempted_at        timestamptz NOT NULL DEFAULT now()
);

-- The latest plan of each site: the room under its import limit and what is left of it.
CREATE TABLE grid_site_plans (
    site                text PRIMARY KEY REFERENCES grid_sites (name) ON DELETE CASCADE,
    planned_at          timestamptz NOT NULL,
    node_id             text NOT NULL,
    import_kw           double precision NOT NULL,
    building_kw         double precision NOT NULL,
    building_source     text NOT NULL,
    connection_kw       double precision,
    room_kw             double precision NOT NULL,
    allocated_kw        double precision NOT NULL,
    headroom_kw         double precision NOT NULL,
    trigger             text NOT NULL
);

-- Each EVSE's share in that plan (evse_id 0: the allowance of a station with no car, for
-- the next arrival).
CREATE TABLE grid_site_shares (
    site                text NOT NULL REFERENCES grid_sites (name) ON DELETE CASCADE,
    station_id          text NOT NULL,
    evse_id             integer NOT NULL,
    transaction_id      text,
    -- charging: shared by the controller; event: held for a grid event's own plan;
    -- uncontrolled: its station does not take the cap (offline, refused): its draw is counted;
    -- idle: no car
    kind                text NOT NULL CHECK (kind IN ('charging', 'event', 'uncontrolled', 'idle')),
    want_kw             double precision NOT NULL,
    minimum_kw          double precision NOT NULL,
    share_kw            double precision NOT NULL,
    measured_kw         double precision,
    PRIMARY KEY (site, station_id, evse_id)
);
