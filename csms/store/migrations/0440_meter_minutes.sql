-- Per-minute meter data as readers need it (docs/scale.md, "Reading minutes"): the rollups say
-- when their registers were read, so that a register series rebuilt from them interpolates to
-- the same value as the raw samples at every minute boundary; one function aggregates a
-- minute from samples (the rollup job and readers alike), and meter_minutes() reads minutes
-- complete: rollups up to the watermark, raw samples for what was written after it.

-- first_at / last_at: the first and last (valid, phase-less) sample carrying an energy register
-- in the minute; first_import / first_export: the registers at first_at (NULL: that sample
-- lacks it); first_soc: the minute's first SoC (soc is its last).
ALTER TABLE meter_rollups
    ADD COLUMN first_at      timestamptz,
    ADD COLUMN last_at       timestamptz,
    ADD COLUMN first_import  float8,
    ADD COLUMN first_export  float8,
    ADD COLUMN first_soc     float8;

-- One station's minutes in [p_since, p_until) from its samples (raw or compacted), per EVSE
-- (-1: not known): what meter_rollups holds for them but the energy deltas. Ties in time are
-- broken by value, so that the same samples always give the same minute.
CREATE FUNCTION meter_station_minutes(p_station text, p_since timestamptz, p_until timestamptz)
RETURNS TABLE (station_id text, evse_id integer, minute timestamptz, samples integer,
               import_register float8, export_register float8, import_w float8,
               export_w float8, soc float8, first_at timestamptz, last_at timestamptz,
               first_import float8, first_export float8, first_soc float8)
LANGUAGE sql STABLE AS $$
    SELECT v.station_id, v.evse_id, v.minute, count(*)::integer,
           (array_agg(v.value ORDER BY v.timestamp DESC, v.value DESC)
                FILTER (WHERE v.register AND v.measurand = 'Energy.Active.Import.Register'))[1],
           (array_agg(v.value ORDER BY v.timestamp DESC, v.value DESC)
                FILTER (WHERE v.register AND v.measurand = 'Energy.Active.Export.Register'))[1],
           avg(v.value) FILTER (WHERE v.ok AND v.measurand = 'Power.Active.Import'),
           avg(v.value) FILTER (WHERE v.ok AND v.measurand = 'Power.Active.Export'),
           (array_agg(v.value ORDER BY v.timestamp DESC, v.value DESC)
                FILTER (WHERE v.ok AND v.measurand = 'SoC'))[1],
           min(v.first_at), max(v.timestamp) FILTER (WHERE v.register),
           (array_agg(v.value ORDER BY v.value DESC) FILTER (WHERE v.register
                AND v.timestamp = v.first_at AND v.measurand = 'Energy.Active.Import.Register'))[1],
           (array_agg(v.value ORDER BY v.value DESC) FILTER (WHERE v.register
                AND v.timestamp = v.first_at AND v.measurand = 'Energy.Active.Export.Register'))[1],
           (array_agg(v.value ORDER BY v.timestamp, v.value)
                FILTER (WHERE v.ok AND v.measurand = 'SoC'))[1]
      FROM (SELECT u.*, min(u.timestamp) FILTER (WHERE u.register)
                            OVER (PARTITION BY u.evse_id, u.minute) AS first_at
              FROM (SELECT m.station_id, coalesce(m.evse_id, -1) AS evse_id,
                           date_trunc('minute', m.timestamp) AS minute, m.timestamp,
                           m.measurand, m.value, m.unit_valid AND m.phase IS NULL AS ok,
                           m.unit_valid AND m.phase IS NULL AND m.measurand IN (
                               'Energy.Active.Import.Register', 'Energy.Active.Export.Register')
                               AS register
                      FROM meter_station_values(p_station, p_since, p_until) m) u) v
     GROUP BY v.station_id, v.evse_id, v.minute
$$;

-- Rollups written before this migration get the new columns from their samples.
UPDATE meter_rollups r
   SET first_at = m.first_at, last_at = m.last_at, first_import = m.first_import,
       first_export = m.first_export, first_soc = m.first_soc
  FROM (SELECT station_id, min(minute) AS lo, max(minute) + interval '1 minute' AS hi
          FROM meter_rollups GROUP BY station_id) g
 CROSS JOIN LATERAL meter_station_minutes(g.station_id, g.lo, g.hi) m
 WHERE r.station_id = m.station_id AND r.minute = m.minute AND r.evse_id = m.evse_id;

-- The minutes of the stations `p_stations` that overlap [p_since, p_until), complete whatever
-- the rollup job has done: a minute no raw row written since the watermark touches is read
-- from meter_rollups; a touched one is aggregated from its samples by meter_station_minutes
-- (as the job will), and its energy, like that of the next minute of its EVSE with a
-- register (whose energy starts from it), is the rise since the last register before it
-- within a day, over both forms. `fresh`: aggregated here, not read from the rollups.
-- `p_watermark`: the watermark as read before (a job committing meanwhile only makes more
-- minutes fresh than need be; a later value than the stored one would miss rows). One
-- statement, one snapshot. The planner sees the watermark's value, so the rows written since
-- are found through meter_raw's BRIN index on received_at rather than by reading the span.
CREATE FUNCTION meter_minutes(p_stations text[], p_since timestamptz, p_until timestamptz,
                              p_watermark timestamptz)
RETURNS TABLE (station_id text, evse_id integer, minute timestamptz, samples integer,
               import_wh float8, export_wh float8, import_register float8,
               export_register float8, import_w float8, export_w float8, soc float8,
               first_at timestamptz, last_at timestamptz, first_import float8,
               first_export float8, first_soc float8, fresh boolean)
LANGUAGE sql STABLE AS $$
WITH touched AS MATERIALIZED (
    SELECT DISTINCT r.station_id, coalesce(r.evse_id, -1) AS evse_id,
           date_trunc('minute', r.timestamp) AS minute
      FROM meter_raw r
     WHERE r.received_at >= p_watermark AND r.station_id = ANY(p_stations)
       AND r.timestamp >= date_trunc('minute', p_since) - interval '1 day'
       AND r.timestamp < p_until),
fresh AS MATERIALIZED (
    SELECT m.* FROM (SELECT t.station_id, min(t.minute) AS lo,
                            max(t.minute) + interval '1 minute' AS hi
                       FROM touched t GROUP BY t.station_id) g
     CROSS JOIN LATERAL meter_station_minutes(g.station_id, g.lo, g.hi) m
     WHERE EXISTS (SELECT 1 FROM touched t WHERE t.station_id = m.station_id
                      AND t.evse_id = m.evse_id AND t.minute = m.minute)),
dependents AS MATERIALIZED (
    SELECT DISTINCT d.station_id, d.evse_id, d.minute
      FROM touched t
     CROSS JOIN LATERAL (
           (SELECT o.station_id, o.evse_id, o.minute FROM meter_rollups o
             WHERE o.station_id = t.station_id AND o.evse_id = t.evse_id
               AND o.minute > t.minute AND o.minute <= t.minute + interval '1 day'
               AND o.import_register IS NOT NULL ORDER BY o.minute LIMIT 1)
           UNION ALL
           (SELECT o.station_id, o.evse_id, o.minute FROM meter_rollups o
             WHERE o.station_id = t.station_id AND o.evse_id = t.evse_id
               AND o.minute > t.minute AND o.minute <= t.minute + interval '1 day'
               AND o.export_register IS NOT NULL ORDER BY o.minute LIMIT 1)) d
     WHERE d.minute >= date_trunc('minute', p_since) AND d.minute < p_until
       AND NOT EXISTS (SELECT 1 FROM touched x WHERE x.station_id = d.station_id
                          AND x.evse_id = d.evse_id AND x.minute = d.minute)),
-- minutes whose energy is computed here: touched ones (from their samples; those before the
-- requested minutes too, as registers to start from) and their dependents (from the rollups)
again AS (
    SELECT f.station_id, f.evse_id, f.minute, f.samples, f.import_register,
           f.export_register, f.import_w, f.export_w, f.soc, f.first_at, f.last_at,
           f.first_import, f.first_export, f.first_soc, true AS fresh
      FROM fresh f
    UNION ALL
    SELECT o.station_id, o.evse_id, o.minute, o.samples, o.import_register,
           o.export_register, o.import_w, o.export_w, o.soc, o.first_at, o.last_at,
           o.first_import, o.first_export, o.first_soc, false
      FROM meter_rollups o JOIN dependents d
        ON d.station_id = o.station_id AND d.evse_id = o.evse_id AND d.minute = o.minute),
-- the last register at or before each of them among them (carried forward) ...
carried AS (
    SELECT a.*,
           first_value(a.import_register) OVER (PARTITION BY a.station_id, a.evse_id, a.gi
                                                ORDER BY a.minute) AS imp,
           first_value(a.minute) OVER (PARTITION BY a.station_id, a.evse_id, a.gi
                                       ORDER BY a.minute) AS imp_at,
           first_value(a.export_register) OVER (PARTITION BY a.station_id, a.evse_id, a.ge
                                                ORDER BY a.minute) AS exp,
           first_value(a.minute) OVER (PARTITION BY a.station_id, a.evse_id, a.ge
                                       ORDER BY a.minute) AS exp_at
      FROM (SELECT g.*,
                   count(g.import_register) OVER w AS gi, count(g.export_register) OVER w AS ge
              FROM again g
            WINDOW w AS (PARTITION BY g.station_id, g.evse_id ORDER BY g.minute)) a),
-- ... so the last before each: among them, or in the rollups (the later; on a tie the one
-- computed here, which holds every sample the rolled-up one held)
previous AS (
    SELECT c.*,
           lag(c.imp) OVER w AS own_imp, lag(c.imp_at) OVER w AS own_imp_at,
           lag(c.exp) OVER w AS own_exp, lag(c.exp_at) OVER w AS own_exp_at
      FROM carried c
    WINDOW w AS (PARTITION BY c.station_id, c.evse_id ORDER BY c.minute)),
recomputed AS (
    SELECT p.*,
           CASE WHEN ri.minute IS NOT NULL
                     AND (p.own_imp_at IS NULL OR ri.minute > p.own_imp_at
                          OR p.own_imp_at < p.minute - interval '1 day')
                THEN ri.import_register
                WHEN p.own_imp_at >= p.minute - interval '1 day' THEN p.own_imp END AS prev_imp,
           CASE WHEN re.minute IS NOT NULL
                     AND (p.own_exp_at IS NULL OR re.minute > p.own_exp_at
                          OR p.own_exp_at < p.minute - interval '1 day')
                THEN re.export_register
                WHEN p.own_exp_at >= p.minute - interval '1 day' THEN p.own_exp END AS prev_exp
      FROM previous p
      LEFT JOIN LATERAL (
           SELECT o.minute, o.import_register FROM meter_rollups o
            WHERE o.station_id = p.station_id AND o.evse_id = p.evse_id
              AND o.minute < p.minute AND o.minute >= p.minute - interval '1 day'
              AND o.import_register IS NOT NULL ORDER BY o.minute DESC LIMIT 1) ri ON true
      LEFT JOIN LATERAL (
           SELECT o.minute, o.export_register FROM meter_rollups o
            WHERE o.station_id = p.station_id AND o.evse_id = p.evse_id
              AND o.minute < p.minute AND o.minute >= p.minute - interval '1 day'
              AND o.export_register IS NOT NULL ORDER BY o.minute DESC LIMIT 1) re ON true
     WHERE p.minute >= date_trunc('minute', p_since) AND p.minute < p_until)
SELECT o.station_id, o.evse_id, o.minute, o.samples, o.import_wh, o.export_wh,
       o.import_register, o.export_register, o.import_w, o.export_w, o.soc, o.first_at,
       o.last_at, o.first_import, o.first_export, o.first_soc, false
  FROM meter_rollups o
 WHERE o.station_id = ANY(p_stations) AND o.minute >= date_trunc('minute', p_since)
   AND o.minute < p_until
   AND (o.station_id, o.evse_id, o.minute) NOT IN (
       SELECT t.station_id, t.evse_id, t.minute FROM touched t
       UNION ALL SELECT d.station_id, d.evse_id, d.minute FROM dependents d)
UNION ALL
SELECT r.station_id, r.evse_id, r.minute, r.samples,
       CASE WHEN r.import_register >= r.prev_imp THEN r.import_register - r.prev_imp END,
       CASE WHEN r.export_register >= r.prev_exp THEN r.export_register - r.prev_exp END,
       r.import_register, r.export_register, r.import_w, r.export_w, r.soc, r.first_at,
       r.last_at, r.first_import, r.first_export, r.first_soc, r.fresh
  FROM recomputed r
$$;

-- The same with the stored watermark.
CREATE FUNCTION meter_minutes(p_stations text[], p_since timestamptz, p_until timestamptz)
RETURNS TABLE (station_id text, evse_id integer, minute timestamptz, samples integer,
               import_wh float8, export_wh float8, import_register float8,
               export_register float8, import_w float8, export_w float8, soc float8,
               first_at timestamptz, last_at timestamptz, first_import float8,
               first_export float8, first_soc float8, fresh boolean)
LANGUAGE sql STABLE AS $$
    SELECT * FROM meter_minutes(p_stations, p_since, p_until,
                                (SELECT watermark FROM meter_rollup_state))
$$;
