-- The HTTP API: its keys, the feed of what happened (the live stream and webhooks read it),
-- webhook subscriptions and their durable outbox.

-- An API key is shown once; only its SHA-256 is kept (the key itself has 256 random bits, so
-- a fast hash is enough: nothing to brute-force). prefix: its first characters, to recognise
-- it in listings.
CREATE TABLE api_keys (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('read', 'operate', 'dispatch', 'admin')),
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);

-- What happened, in order: station.connected, transaction.started, event.step, ... Written by
-- csms.store.events_feed.emit in the transaction of the change where there is one; each row is
-- announced with NOTIFY csms_feed (payload: its id) for the live stream. Pruned after a week.
CREATE TABLE feed_events (
    id              bigserial PRIMARY KEY,
    type            text NOT NULL,
    data            jsonb NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_events_at ON feed_events USING brin (at);

CREATE TABLE webhooks (
    id              bigserial PRIMARY KEY,
    url             text NOT NULL,
    types           text[] NOT NULL,
    secret          text NOT NULL,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- the API process delivering this subscription's outbox (in order) until this time
    lease_until     timestamptz,
    lease_holder    text
);

-- The outbox: one row per (subscription, feed event), inserted by the same statement that
-- writes the feed event, so an event that happened is never without its deliveries.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_status     integer,
    last_error      text
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id DESC);
