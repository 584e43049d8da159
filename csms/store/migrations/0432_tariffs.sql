-- Tariffs and the cost of transactions (I02 running cost, I03 final cost).

CREATE TABLE tariffs (
    id                  bigserial PRIMARY KEY,
    -- the station it applies to; NULL: the default tariff, for every station without its own
    station_id          text UNIQUE REFERENCES stations (id) ON DELETE CASCADE,
    -- ISO 4217; the stations must show the same (TariffCostCtrlr.Currency)
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- price of a kWh imported (charged into the car)
    energy_price        numeric NOT NULL CHECK (energy_price >= 0),
    -- credit for a kWh exported (discharged into the grid): a fixed amount, or the per-kWh
    -- rate of a demand-response program times its drivers' share; neither: no credit
    discharge_credit    numeric CHECK (discharge_credit >= 0),
    credit_program      text REFERENCES grid_programs (name),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (discharge_credit IS NULL OR credit_program IS NULL)
);
CREATE UNIQUE INDEX tariffs_one_default ON tariffs ((true)) WHERE station_id IS NULL;

-- The cost the CSMS told a station, per transaction: the running cost last sent with
-- CostUpdated (and how the station answered), and the final cost given in the answer to the
-- transaction's Ended event.
CREATE TABLE transaction_costs (
    station_id          text NOT NULL,
    transaction_id      text NOT NULL,
    currency            text NOT NULL,
    running_cost        numeric,
    running_sent_at     timestamptz,
    running_outcome     text,
    final_cost          numeric,
    final_at            timestamptz,
    PRIMARY KEY (station_id, transaction_id),
    FOREIGN KEY (station_id, transaction_id)
        REFERENCES transactions (station_id, transaction_id) ON DELETE CASCADE
);
