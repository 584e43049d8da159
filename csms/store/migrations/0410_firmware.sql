-- Firmware updates (L01, L02): a campaign sends UpdateFirmware to many stations, each with a
-- requestId of its own, and keeps what became of it: the station's answer, the progress its
-- FirmwareStatusNotifications report (the history stays in status_notifications, kind
-- 'firmware'), and the firmware version of the station's next BootNotification.

CREATE TABLE firmware_campaigns (
    id                  bigserial PRIMARY KEY,
    location            text NOT NULL,
    retrieve_at         timestamptz NOT NULL,
    install_at          timestamptz,
    signature           text,
    signing_certificate text,
    retries             integer,
    retry_interval      integer,
    -- offline stations were queued until then; NULL: they were reported offline, not queued
    queue_until         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- requestIds of UpdateFirmware; started high so that ids chosen by hand (csms call) rarely
-- meet them.
CREATE SEQUENCE firmware_request_ids START 100000 MAXVALUE 2147483647 CYCLE;

CREATE TABLE firmware_updates (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    campaign_id         bigint NOT NULL REFERENCES firmware_campaigns (id) ON DELETE CASCADE,
    -- the UpdateFirmware command (NULL when it was not sent: the station was offline)
    command_id          bigint REFERENCES commands (id) ON DELETE SET NULL,
    firmware_before     text,
    -- how the call ended: the station's status (Accepted, Rejected, AcceptedCanceled,
    -- InvalidCertificate, RevokedCertificate) or what stopped it (offline, queued, expired,
    -- callerror, timeout, disconnected); NULL while the answer is awaited
    answer              text,
    answer_reason       text,
    answered_at         timestamptz,
    -- the latest FirmwareStatusNotification for this requestId
    status              text,
    status_info         jsonb,
    status_at           timestamptz,
    -- the requestId of a later update the station accepted with AcceptedCanceled (L01.FR.24)
    canceled_by         integer,
    -- the first BootNotification once the update was under way
    booted_at           timestamptz,
    boot_reason         text,
    firmware_after      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id)
);
CREATE INDEX firmware_updates_campaign ON firmware_updates (campaign_id, station_id);
-- the updates whose station has not booted since (read at every BootNotification)
CREATE INDEX firmware_updates_awaiting_boot ON firmware_updates (station_id)
    WHERE booted_at IS NULL AND canceled_by IS NULL;
