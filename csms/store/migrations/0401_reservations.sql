-- Reservations the CSMS made (H01-H04): what was asked, the station's answer, and how the
-- reservation ended (expired, removed, cancelled, used by a transaction).

-- Reservation ids are the CSMS's, unique across all stations (ReserveNowRequest.id).
CREATE SEQUENCE reservation_ids MAXVALUE 2147483647;

CREATE TABLE reservations (
    id                  integer PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    -- NULL: any EVSE of the station (H01 S3)
    evse_id             integer CHECK (evse_id > 0),
    connector_type      text,
    id_token            text NOT NULL,
    id_token_type       text NOT NULL,
    group_id_token      text,
    group_token_type    text,
    expires_at          timestamptz NOT NULL,
    -- Requested: sent, no answer yet; Accepted, Rejected, Faulted, Occupied, Unavailable: the
    -- ReserveNowResponse; Failed: never reached the station (offline, CALLERROR); Expired,
    -- Removed, NoTransaction: ReservationStatusUpdate (or the expiry time passed: Expired);
    -- Cancelled: CancelReservation accepted; Used: a transaction started with it.
    status              text NOT NULL DEFAULT 'Requested' CHECK (status IN (
                            'Requested', 'Accepted', 'Rejected', 'Faulted', 'Occupied',
                            'Unavailable', 'Failed', 'Expired', 'Removed', 'NoTransaction',
                            'Cancelled', 'Used')),
    -- why: the station's statusInfo, the CALLERROR, or what the CSMS concluded
    reason              text,
    transaction_id      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_station ON reservations (station_id, id);
CREATE INDEX reservations_live ON reservations (expires_at) WHERE status IN ('Requested', 'Accepted');
