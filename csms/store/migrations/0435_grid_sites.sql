-- Sites: the grid connection a group of stations shares with a building, its import and export
-- limits (export 0: a non-export interconnection), the station whose EVSE 0 main meter measures
-- the connection, and building load readings imported from the site's own meter data.

CREATE TABLE grid_sites (
    name                text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    import_kw           double precision NOT NULL CHECK (import_kw >= 0),
    export_kw           double precision NOT NULL CHECK (export_kw >= 0),
    -- the station whose EVSE 0 reports Power.Active.Import/Export at the grid connection
    meter_station_id    text REFERENCES stations (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A station is at one site at most.
CREATE TABLE grid_site_stations (
    station_id          text PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
    site                text NOT NULL REFERENCES grid_sites (name) ON DELETE CASCADE
);
CREATE INDEX grid_site_stations_site ON grid_site_stations (site);

-- The building's load (without the chargers), kW, from `csms sites meter import`: each reading
-- holds from its time until the next one (at most an hour).
CREATE TABLE grid_site_load (
    site                text NOT NULL REFERENCES grid_sites (name) ON DELETE CASCADE,
    at                  timestamptz NOT NULL,
    building_kw         double precision NOT NULL CHECK (building_kw >= 0),
    PRIMARY KEY (site, at)
);
