-- CustomerInformation requests (N09, N10): whom they named, what was asked (report, clear) and
-- how the station answered. The NotifyCustomerInformation parts are in customer_information.
-- diagnostics_request_ids also numbers GetMonitoringReport requests.

CREATE SEQUENCE diagnostics_request_ids START 100000 MAXVALUE 2147483647 CYCLE;

CREATE TABLE customer_information_requests (
    station_id          text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    id_token            text,
    id_token_type       text,
    customer_identifier text,
    customer_certificate jsonb,
    report              boolean NOT NULL,
    clear               boolean NOT NULL,
    command_id          bigint REFERENCES commands (id) ON DELETE SET NULL,
    answer              text,
    answer_reason       text,
    answered_at         timestamptz,
    requested_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, request_id)
);
