-- Per-station boot status (B02): what a station is answered at its next BootNotification.
--
-- registration_status: set by the operator (csms stations set-boot ID --status); NULL means
-- the server's --boot-policy. A station that has never booted takes the stored default for
-- new stations at its first BootNotification, and keeps it as its own from then on.
ALTER TABLE stations ADD COLUMN registration_status text
    CHECK (registration_status IN ('Accepted', 'Pending', 'Rejected'));

-- One row at most: the default boot status of new stations (csms stations set-boot --default).
CREATE TABLE boot_defaults (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    registration_status text NOT NULL
                        CHECK (registration_status IN ('Accepted', 'Pending', 'Rejected')),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
