-- Certificate management (blocks A and M, use case C07): the CA that signs station
-- certificates, the settings of the services asked on stations' behalf, every CSR and what
-- became of it, what the CSMS installed on stations, each station's certificate inventory,
-- the operator's revocation list, trusted contract roots and cached OCSP answers.

-- The CA that signs each type of station certificate (csms certs ca): files the server
-- reads when a CSR arrives, so the private key never enters the database.
CREATE TABLE signing_authorities (
    certificate_type    text PRIMARY KEY
                        CHECK (certificate_type IN ('ChargingStationCertificate', 'V2GCertificate',
                                                    'V2G20Certificate')),
    cert_file           text NOT NULL,
    key_file            text NOT NULL,
    days                integer NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One row: where contract certificates come from and which OCSP responders may be asked.
CREATE TABLE certificate_settings (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    contract_url        text,
    -- URL prefixes of the OCSP responders the CSMS may ask ('*': any http(s) URL)
    ocsp_responders     text[] NOT NULL DEFAULT '{}',
    http_timeout_s      real NOT NULL DEFAULT 10 CHECK (http_timeout_s > 0 AND http_timeout_s <= 60),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO certificate_settings DEFAULT VALUES;

-- Every SignCertificate (A02/A03): the CSR, the CSMS's answer, the certificate it signed
-- and the station's answer to the CertificateSigned that carried it.
CREATE TABLE certificate_signings (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    certificate_type    text NOT NULL,
    request_id          integer,
    csr                 text NOT NULL,
    csr_subject         text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    status              text NOT NULL CHECK (status IN ('Accepted', 'Rejected')),
    reason_code         text,
    reason              text,
    serial_number       text,
    not_after           timestamptz,
    certificate_chain   text,
    -- the CertificateSigned command that carried it, or why none could be sent
    command_id          bigint,
    delivery_error      text,
    station_status      text,
    station_reason      text,
    answered_at         timestamptz
);
CREATE INDEX certificate_signings_station ON certificate_signings (station_id, id);
CREATE INDEX certificate_signings_serial ON certificate_signings (station_id, serial_number)
    WHERE serial_number IS NOT NULL;

-- Every InstallCertificate a station answered: what the CSMS sent and the answer.
CREATE TABLE certificate_installs (
    id                  bigserial PRIMARY KEY,
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    certificate_type    text NOT NULL,
    certificate         text NOT NULL,
    subject             text,
    issuer              text,
    serial_number       text,
    not_after           timestamptz,
    fingerprint         text,
    command_id          bigint,
    status              text NOT NULL,
    reason              text,
    answered_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_installs_station ON certificate_installs (station_id, id);

-- A station's installed certificates as the CSMS knows them: its last
-- GetInstalledCertificateIds answer per type, installs it accepted since, deletions it
-- confirmed. install_id links a row to the PEM the CSMS installed, when it did.
CREATE TABLE station_certificates (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    certificate_type    text NOT NULL,
    hash_algorithm      text NOT NULL,
    issuer_name_hash    text NOT NULL,
    issuer_key_hash     text NOT NULL,
    serial_number       text NOT NULL,
    child_hash_data     jsonb NOT NULL DEFAULT '[]',
    install_id          bigint REFERENCES certificate_installs (id) ON DELETE SET NULL,
    source              text NOT NULL CHECK (source IN ('reported', 'installed')),
    seen_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, certificate_type, hash_algorithm, issuer_name_hash,
                 issuer_key_hash, serial_number)
);

-- Contract certificates the operator declares revoked (csms certs revoke), by serial alone
-- (any issuer) or by serial and issuer hashes.
CREATE TABLE revoked_certificates (
    id                  bigserial PRIMARY KEY,
    serial_number       text NOT NULL,
    hash_algorithm      text,
    issuer_name_hash    text,
    issuer_key_hash     text,
    subject             text,
    issuer              text,
    reason              text,
    revoked_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((hash_algorithm IS NULL) = (issuer_name_hash IS NULL)
           AND (issuer_name_hash IS NULL) = (issuer_key_hash IS NULL))
);
CREATE INDEX revoked_certificates_serial ON revoked_certificates (serial_number);

-- Roots a contract certificate chain sent whole in an Authorize may end in (C07).
CREATE TABLE contract_roots (
    fingerprint         text PRIMARY KEY,
    certificate_type    text NOT NULL
                        CHECK (certificate_type IN ('V2GRootCertificate', 'MORootCertificate')),
    certificate         text NOT NULL,
    subject             text NOT NULL,
    not_after           timestamptz NOT NULL,
    added_at            timestamptz NOT NULL DEFAULT now()
);

-- OCSP answers kept until their nextUpdate (C07.FR.05: real-time or cached OCSP data).
CREATE TABLE ocsp_responses (
    hash_algorithm      text NOT NULL,
    issuer_name_hash    text NOT NULL,
    issuer_key_hash     text NOT NULL,
    serial_number       text NOT NULL,
    responder_url       text NOT NULL,
    status              text NOT NULL CHECK (status IN ('good', 'revoked', 'unknown')),
    response            bytea NOT NULL,
    verified            boolean NOT NULL,
    this_update         timestamptz NOT NULL,
    next_update         timestamptz NOT NULL,
    revoked_at          timestamptz,
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number)
);
