-- The operator dashboard: the secret that signs its session cookies and its read-only links
-- (`csms dashboard-link` signs in its own process, `csms api` verifies: both read it here).
-- One row, made by the first process that needs it. Replacing the row (UPDATE with 32 new
-- random bytes) ends every session and link signed so far.
CREATE TABLE dashboard_secret (
    id              smallint PRIMARY KEY CHECK (id = 1),
    secret          bytea NOT NULL CHECK (octet_length(secret) >= 32),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- API processes with a stream open that asked for live telemetry (meter.sampled): while any
-- row is current, the nodes announce meter values on NOTIFY csms_live; with none, they do not
-- (no NOTIFY costs PostgreSQL anything when nobody looks). Renewed every 10 s, kept 30 s.
CREATE TABLE live_interest (
    holder          text PRIMARY KEY,
    until           timestamptz NOT NULL
);
