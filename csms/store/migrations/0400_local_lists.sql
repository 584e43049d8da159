-- The Local Authorization List of each station as the CSMS believes it (D01, D02): the version
-- the station accepted last and the entries it holds, kept in step with every SendLocalList the
-- station accepts, so that a differential update sends only what changed since.

CREATE TABLE local_lists (
    station_id          text PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
    -- the version of the list the station holds (0: none installed, as GetLocalListVersion says)
    version             integer NOT NULL DEFAULT 0 CHECK (version >= 0),
    -- when the station last accepted an update
    updated_at          timestamptz,
    -- the highest versionNumber the CSMS ever sent the station: new versions go above it
    sent_version        integer NOT NULL DEFAULT 0 CHECK (sent_version >= 0),
    -- the last SendLocalList answered: its updateType, versionNumber, status and statusInfo
    last_update_type    text CHECK (last_update_type IN ('Full', 'Differential')),
    last_version        integer,
    last_status         text,
    last_reason         text,
    last_answered_at    timestamptz,
    -- what the station last reported in a GetLocalListVersionResponse
    reported_version    integer,
    reported_at         timestamptz
);

-- One row per AuthorizationData the station holds: its idToken and the idTokenInfo sent.
CREATE TABLE local_list_entries (
    station_id          text NOT NULL REFERENCES local_lists (station_id) ON DELETE CASCADE,
    id_token            text NOT NULL,
    token_type          text NOT NULL,
    id_token_info       jsonb NOT NULL
);
-- idToken is case insensitive: one entry per value (any case) and type (D01.FR.06).
CREATE UNIQUE INDEX local_list_entries_token
    ON local_list_entries (station_id, lower(id_token), token_type);
