-- Log uploads (N01): GetLog requests, the files stations upload to the CSMS's own HTTP
-- endpoint, and where each node's endpoint listens. The LogStatusNotification history stays in
-- status_notifications (kind 'log').

-- The upload endpoint of each server node: the base URL given to stations and where files go.
CREATE TABLE upload_endpoints (
    node_id             text PRIMARY KEY REFERENCES nodes (node_id) ON DELETE CASCADE,
    base_url            text NOT NULL,
    directory           text NOT NULL,
    started_at          timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE log_request_ids START 100000 MAXVALUE 2147483647 CYCLE;

CREATE TABLE log_requests (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    log_type            text NOT NULL,
    oldest_at           timestamptz,
    latest_at           timestamptz,
    remote_location     text NOT NULL,
    -- the secret part of an upload URL on this CSMS (NULL when the log goes elsewhere)
    upload_token        text UNIQUE,
    command_id          bigint REFERENCES commands (id) ON DELETE SET NULL,
    -- as firmware_updates.answer: Accepted, Rejected, AcceptedCanceled, or what stopped the call
    answer              text,
    answer_reason       text,
    answered_at         timestamptz,
    -- GetLogResponse.filename
    filename            text,
    -- the latest LogStatusNotification for this requestId
    status              text,
    status_info         jsonb,
    status_at           timestamptz,
    -- the requestId of a later GetLog the station accepted with AcceptedCanceled
    canceled_by         integer,
    requested_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id)
);
CREATE INDEX log_requests_time ON log_requests (requested_at);

-- A file a station uploaded for a request.
CREATE TABLE log_files (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL,
    request_id          integer NOT NULL,
    filename            text NOT NULL,
    path                text NOT NULL,
    size_bytes          bigint NOT NULL,
    sha256              text NOT NULL,
    content_type        text,
    node_id             text,
    remote_address      text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (station_id, request_id) REFERENCES log_requests (station_id, request_id)
        ON DELETE CASCADE
);
CREATE INDEX log_files_request ON log_files (station_id, request_id);
