-- What real chargers send, kept right.
--
-- 1. Sampled values in one canonical unit per kind of quantity (energy Wh, power W, ...), after
--    their multiplier, with the unit and multiplier as sent kept beside them; a unit that does
--    not fit its measurand is stored as sent and flagged (unit_valid = false).
ALTER TABLE meter_values
    ADD COLUMN sent_unit text,
    ADD COLUMN sent_multiplier smallint,
    ADD COLUMN unit_valid boolean NOT NULL DEFAULT true;

-- Rows stored before this migration hold the value scaled by its multiplier, in the unit as
-- sent: bring kilo-units to their canonical unit, and flag the units that do not fit.
CREATE TEMPORARY TABLE unit_kinds (unit text PRIMARY KEY, kind text NOT NULL, canonical text,
                                   factor numeric NOT NULL) ON COMMIT DROP;
INSERT INTO unit_kinds VALUES
    ('Wh', 'energy', 'Wh', 1), ('kWh', 'energy', 'Wh', 1000),
    ('varh', 'reactive energy', 'varh', 1), ('kvarh', 'reactive energy', 'varh', 1000),
    ('VAh', 'apparent energy', 'VAh', 1), ('kVAh', 'apparent energy', 'VAh', 1000),
    ('W', 'power', 'W', 1), ('kW', 'power', 'W', 1000),
    ('var', 'reactive power', 'var', 1), ('kvar', 'reactive power', 'var', 1000),
    ('VA', 'apparent power', 'VA', 1), ('kVA', 'apparent power', 'VA', 1000),
    ('A', 'current', 'A', 1), ('V', 'voltage', 'V', 1), ('Hz', 'frequency', 'Hz', 1),
    ('Percent', 'percent', 'Percent', 1), ('Celsius', 'temperature', 'Celsius', 1);

CREATE TEMPORARY TABLE converted ON COMMIT DROP AS
WITH kinds AS (
    SELECT ctid AS row_id, unit,
           CASE WHEN measurand LIKE 'Energy.Active%' THEN 'energy'
                WHEN measurand LIKE 'Energy.Reactive%' THEN 'reactive energy'
                WHEN measurand LIKE 'Energy.Apparent%' THEN 'apparent energy'
                WHEN measurand = 'Power.Factor' THEN NULL
                WHEN measurand LIKE 'Power.Reactive%' THEN 'reactive power'
                WHEN measurand LIKE 'Power%' THEN 'power'
                WHEN measurand LIKE 'Current%' THEN 'current'
                WHEN measurand LIKE 'Voltage%' THEN 'voltage'
                WHEN measurand LIKE 'Frequency%' THEN 'frequency'
                WHEN measurand = 'SoC' THEN 'percent'
           END AS kind
      FROM meter_values
     WHERE unit IS NOT NULL
)
SELECT k.row_id, u.canonical, u.factor, coalesce(u.kind = k.kind, false) AS fits
  FROM kinds k LEFT JOIN unit_kinds u ON u.unit = k.unit
 WHERE k.kind IS NOT NULL AND (u.kind IS DISTINCT FROM k.kind OR u.factor <> 1);

UPDATE meter_values m
   SET sent_unit = m.unit,
       unit = CASE WHEN c.fits THEN c.canonical ELSE m.unit END,
       value = CASE WHEN c.fits THEN (m.value::numeric * c.factor)::float8 ELSE m.value END,
       unit_valid = c.fits
  FROM converted c
 WHERE m.ctid = c.row_id;

-- Transactions whose energy registers came in kWh: their totals, from the converted values.
UPDATE transactions t SET
    energy_import_start = r.import_start, energy_import_end = r.import_end,
    energy_export_start = r.export_start, energy_export_end = r.export_end
  FROM (
    SELECT m.station_id, m.transaction_id,
           (array_agg(value ORDER BY timestamp) FILTER (
                WHERE measurand = 'Energy.Active.Import.Register'))[1] AS import_start,
           (array_agg(value ORDER BY timestamp DESC) FILTER (
                WHERE measurand = 'Energy.Active.Import.Register'))[1] AS import_end,
           (array_agg(value ORDER BY timestamp) FILTER (
                WHERE measurand = 'Energy.Active.Export.Register'))[1] AS export_start,
           (array_agg(value ORDER BY timestamp DESC) FILTER (
                WHERE measurand = 'Energy.Active.Export.Register'))[1] AS export_end
      FROM meter_values m
     WHERE m.unit_valid AND m.phase IS NULL AND m.transaction_id IS NOT NULL
       AND (m.station_id, m.transaction_id) IN (
           SELECT station_id, transaction_id FROM meter_values
            WHERE sent_unit IS NOT NULL AND measurand LIKE 'Energy.Active.%.Register')
     GROUP BY m.station_id, m.transaction_id
  ) r
 WHERE t.station_id = r.station_id AND t.transaction_id = r.transaction_id;

-- 2. TransactionEvents: a repeat is the same seqNo with the same content. Stations that reuse
--    seqNos (every event numbered 0, a counter reset at reboot) get each event stored. digest
--    is a hash of the event's content; 0 marks events stored before content was compared,
--    which match any event of their seqNo.
ALTER TABLE transaction_events ADD COLUMN digest bigint NOT NULL DEFAULT 0;
ALTER TABLE transaction_events DROP CONSTRAINT transaction_events_pkey;
ALTER TABLE transaction_events ADD PRIMARY KEY (station_id, transaction_id, seq_no, digest);

-- true once a transaction had two different events with one seqNo (warned once).
ALTER TABLE transactions ADD COLUMN seq_no_reused boolean NOT NULL DEFAULT false;
