/* The dashboard's only script: draws the charts from the data the page carries and keeps
   the page current from the live stream (/dashboard/stream, server-sent events). No polling:
   everything after the first paint arrives on the stream. */
"use strict";
(function () {
  const main = document.getElementById("main");
  const liveState = document.getElementById("live-state");
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                   "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e"];

  /* numbers for people, as csms.readable prints them */
  function kw(v) { return v == null || !isFinite(v) ? "" : (Math.abs(v) < 0.05 ? 0 : v).toFixed(1); }
  function soc(v) {
    if (v == null || !isFinite(v)) return "";
    return (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)) + " %";
  }
  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function seconds(iso) { return Date.parse(iso) / 1000; }
  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }

  /* -- the stream ------------------------------------------------------------------------ */
  const handlers = {};
  function on(type, fn) { (handlers[type] = handlers[type] || []).push(fn); }
  function connect() {
    const types = main.dataset.stream;
    if (!types) { setText(liveState, ""); return; }
    const source = new EventSource("/dashboard/stream?types=" + encodeURIComponent(types));
    source.onopen = function () { setText(liveState, "Live"); };
    source.onerror = function () {
      // closed for good (the session ended: a 401): say so; otherwise the browser retries
      setText(liveState, source.readyState === EventSource.CLOSED
        ? "Not live: reload or log in again" : "Reconnecting…");
    };
    for (const type of types.split(",")) {
      source.addEventListener(type, function (message) {
        const body = JSON.parse(message.data);
        for (const fn of handlers[type] || []) fn(body.data, body);
      });
    }
  }

  /* -- charts ---------------------------------------------------------------------------- */
  const charts = [];
  function chart(id, opts, series) {
    const el = document.getElementById(id);
    if (!el || typeof uPlot === "undefined") return null;
    const made = new uPlot(Object.assign({
      width: Math.max(320, el.clientWidth), height: 300,
      scales: { x: { time: true } }, legend: { live: true },
      // times in UTC, as everywhere else on the pages
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
    }, opts), series, el);
    charts.push([made, el]);
    return made;
  }
  window.addEventListener("resize", function () {
    for (const [c, el] of charts) c.setSize({ width: Math.max(320, el.clientWidth), height: c.height });
  });
  const stepped = function () { return uPlot.paths.stepped({ align: 1 }); };
  /* times as HH:MM:SS UTC (the pages' times are UTC), kW to one decimal */
  const TIME_AXIS = { values: function (u, ticks) {
    return ticks.map(function (t) { return new Date(t * 1000).toISOString().slice(11, 19); });
  } };
  function kwTicks(u, ticks) { return ticks.map(function (t) { return t.toFixed(1); }); }
  function kwAxis(label) { return [TIME_AXIS, { label: label, values: kwTicks }]; }
  /* a kW scale that shows at least -1..1 kW, so a flat zero line is not blown up */
  function kwRange(u, min, max) { return [Math.min(min, 0, -1), Math.max(max, 1)]; }

  /* -- table rows of EVSEs (fleet and station pages) --------------------------------------- */
  function rowsOf(station, evse) {
    let selector = 'tr[data-station="' + CSS.escape(station) + '"]';
    if (evse != null) selector += '[data-evse="' + CSS.escape(String(evse)) + '"]';
    return document.querySelectorAll(selector);
  }
  function field(row, name) { return row.querySelector('[data-field="' + name + '"]'); }

  /* -- the fleet page -------------------------------------------------------------------- */
  function fleetPage(fleet) {
    const online = fleet.online;  // station -> bool, every station (filters aside)
    const evses = fleet.evses;    // "station/evse" -> {import, export, tx}
    function totals() {
      const ids = Object.keys(online);
      setText(document.getElementById("sum-online"), String(ids.filter(function (s) { return online[s]; }).length));
      setText(document.getElementById("sum-stations"), String(ids.length));
      let plugged = 0, imp = 0, exp = 0;
      for (const e of Object.values(evses)) {
        if (!e.tx) continue;
        plugged += 1; imp += e.import || 0; exp += e.export || 0;
      }
      setText(document.getElementById("sum-plugged"), String(plugged));
      setText(document.getElementById("sum-import"), kw(imp));
      setText(document.getElementById("sum-export"), kw(exp));
    }
    function evse(d) {
      const key = d.station_id + "/" + d.evse_id;
      return (evses[key] = evses[key] || { import: null, export: null, tx: null });
    }
    function connection(d, connected) {
      online[d.station_id] = connected;
      for (const row of rowsOf(d.station_id)) {
        const cell = field(row, "online");
        setText(cell, connected ? "online" : "offline");
        cell.className = connected ? "on" : "off";
      }
      totals();
    }
    on("station.connected", function (d) { connection(d, true); });
    on("station.disconnected", function (d) { connection(d, false); });
    on("meter.sampled", function (d) {
      const e = evse(d);
      if (d.import_kw != null) e.import = d.import_kw;
      if (d.export_kw != null) e.export = d.export_kw;
      if (d.transaction_id) e.tx = d.transaction_id;
      for (const row of rowsOf(d.station_id, d.evse_id)) {
        if (d.soc_percent != null) setText(field(row, "soc"), soc(d.soc_percent));
        if (d.import_kw != null) setText(field(row, "import"), kw(d.import_kw));
        if (d.export_kw != null) setText(field(row, "export"), kw(d.export_kw));
      }
      totals();
    });
    on("evse.status", function (d) {
      for (const row of rowsOf(d.station_id, d.evse_id)) setText(field(row, "status"), d.status);
    });
    on("transaction.started", function (d) {
      evse(d).tx = d.transaction_id;
      for (const row of rowsOf(d.station_id, d.evse_id)) setText(field(row, "transaction"), d.transaction_id);
      totals();
    });
    on("transaction.ended", function (d) {
      const e = evse(d);
      e.tx = null; e.import = null; e.export = null;
      for (const row of rowsOf(d.station_id, d.evse_id)) {
        for (const name of ["transaction", "import", "export", "soc"]) setText(field(row, name), "");
      }
      totals();
    });
  }

  /* -- an event's page ------------------------------------------------------------------- */
  function eventPage(page) {
    const c = page.chart;
    const evs = c.evs;
    const times = c.times.slice();
    const target = c.target_kw.slice();
    const measured = c.measured_kw.slice();
    const kwOf = evs.map(function (e) { return e.kw.slice(); });
    const socOf = evs.map(function (e) { return e.soc_grid.slice(); });
    const index = {};
    evs.forEach(function (e, i) { index[e.key] = i; });

    function stacks() {
      const out = [], running = times.map(function () { return 0; });
      for (const series of kwOf) {
        for (let i = 0; i < running.length; i++) running[i] += Math.max(0, series[i] || 0);
        out.push(running.slice());
      }
      return out;
    }
    const fleet = chart("chart-fleet", {
      axes: kwAxis("kW"),
      series: [{}, { label: "target, kW", stroke: "#1a1a1a", width: 2, paths: stepped(),
                     value: function (u, v) { return kw(v); } },
               { label: "measured, kW", stroke: "#c0392b", width: 1.5, paths: stepped(),
                 points: { show: false }, value: function (u, v) { return kw(v); } }],
    }, [times, target, measured]);
    const stackSeries = [{}];
    const bands = [];
    evs.forEach(function (e, i) {
      const colour = PALETTE[i % PALETTE.length];
      stackSeries.push({ label: e.key, stroke: colour, fill: colour + "99", width: 1, paths: stepped(),
                         points: { show: false },
                         value: function (u, v, s, idx) { return idx == null ? "" : kw(kwOf[i][idx]); } });
      if (i > 0) bands.push({ series: [i + 1, i] });
    });
    const stack = chart("chart-stack", { axes: kwAxis("kW"), series: stackSeries, bands: bands },
                        [times].concat(stacks()));
    const socChart = chart("chart-soc", {
      axes: [TIME_AXIS, { label: "SoC, %" }], scales: { x: { time: true }, y: { range: [0, 100] } },
      series: [{}].concat(evs.map(function (e, i) {
        return { label: e.key, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
                 points: { show: false },
                 value: function (u, v) { return soc(v); } };
      })),
    }, [times].concat(socOf));

    function redraw() {
      if (fleet) fleet.setData([times, target, measured]);
      if (stack) stack.setData([times].concat(stacks()));
      if (socChart) socChart.setData([times].concat(socOf));
    }
    if (!page.live) return;
    const latest = evs.map(function () { return null; });
    let currentTarget = target.length ? target[target.length - 1] : null;
    const rows = {};
    for (const row of document.querySelectorAll("#ev-table tr[data-ev]")) rows[row.dataset.ev] = row;

    on("meter.sampled", function (d) {
      const key = d.station_id + "/" + d.evse_id;
      const i = index[key];
      if (i === undefined) return;
      const at = seconds(d.at);
      const prev = latest[i] || { kw: 0, soc: null };
      const power = (d.export_kw != null || d.import_kw != null)
        ? (d.export_kw || 0) - (d.import_kw || 0) : prev.kw;
      latest[i] = { kw: power, soc: d.soc_percent != null ? d.soc_percent : prev.soc, at: at };
      const row = rows[key];
      if (row) {
        setText(field(row, "kw"), kw(power));
        if (latest[i].soc != null) {
          setText(field(row, "soc"), soc(latest[i].soc));
          const meter = row.querySelector("meter");
          if (meter) meter.value = latest[i].soc;
        }
      }
      const last = times.length ? times[times.length - 1] : c.start;
      if (at < last + c.step_s || at > page.event_end + c.step_s) return;
      const t = last + c.step_s * Math.floor((at - last) / c.step_s);
      times.push(t);
      target.push(currentTarget);
      let sum = 0;
      latest.forEach(function (l, j) {
        const fresh = l && t - l.at <= 3 * c.step_s;
        const value = fresh ? l.kw : 0;
        kwOf[j].push(value);
        socOf[j].push(l ? l.soc : socOf[j][socOf[j].length - 1]);
        sum += value;
      });
      measured.push(sum);
      setText(document.getElementById("measured-now"), kw(sum));
      setText(document.getElementById("measured-at"), new Date(t * 1000).toISOString().slice(11, 19));
      redraw();
    });
    on("event.step", function (d) {
      if (d.event_id !== page.event_id) return;
      currentTarget = d.target_kw;
      setText(document.getElementById("target-now"), kw(d.target_kw));
      setText(document.getElementById("step-no"), String(d.step));
      for (const [key, value] of Object.entries(d.setpoints || {})) {
        if (rows[key]) setText(field(rows[key], "setpoint"), kw(value));
      }
      const aside = Object.entries(d.set_aside || {});
      for (const [key, why] of aside) {
        if (rows[key]) setText(field(rows[key], "state"), "set aside: " + why);
      }
      if (aside.length) {
        const list = document.getElementById("aside-list");
        for (const [key, why] of aside) {
          const item = document.createElement("li");
          const name = document.createElement("strong");
          name.textContent = key;
          item.append(name, " set aside: " + why);
          list.append(item);
        }
        for (const none of list.querySelectorAll(".none")) none.remove();
      }
    });
    on("event.started", function (d) {
      if (d.event_id === page.event_id) setText(document.getElementById("event-status"), "active");
    });
    on("event.completed", function (d) {
      if (d.event_id !== page.event_id) return;
      setText(document.getElementById("event-status"), d.status || "completed");
      document.getElementById("event-ended").hidden = false;
    });
  }

  /* -- a station's page ------------------------------------------------------------------ */
  function stationPage(page) {
    const badge = document.getElementById("station-online");
    const history = document.getElementById("history");
    function connection(d, connected) {
      if (d.station_id !== page.station_id) return;
      setText(badge, connected ? "online" : "offline");
      badge.className = connected ? "on" : "off";
      const item = document.createElement("li");
      item.textContent = new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC: " +
        (connected ? "connected (" + (d.ocpp || "") + (d.remote ? " from " + d.remote : "") + ")"
                   : "disconnected" + (d.reason ? " (" + d.reason + ")" : ""));
      for (const none of history.querySelectorAll(".none")) none.remove();
      history.prepend(item);
    }
    on("station.connected", function (d) { connection(d, true); });
    on("station.disconnected", function (d) { connection(d, false); });
    on("evse.status", function (d) {
      for (const row of rowsOf(d.station_id, d.evse_id)) setText(field(row, "status"), d.status);
    });
    on("transaction.started", function (d) {
      for (const row of rowsOf(d.station_id, d.evse_id)) setText(field(row, "transaction"), d.transaction_id);
    });
    on("transaction.ended", function (d) {
      for (const row of rowsOf(d.station_id, d.evse_id)) {
        for (const name of ["transaction", "import", "export", "soc"]) setText(field(row, name), "");
      }
    });

    const curve = page.curve;
    let meterChart = null;
    const mx = [], mp = [], ms = [];
    if (curve) {
      const byTime = new Map();
      for (const [t, v] of curve.power) byTime.set(t, [v, null]);
      for (const [t, v] of curve.soc) byTime.set(t, [byTime.has(t) ? byTime.get(t)[0] : null, v]);
      for (const t of Array.from(byTime.keys()).sort(function (a, b) { return a - b; })) {
        mx.push(t); mp.push(byTime.get(t)[0]); ms.push(byTime.get(t)[1]);
      }
      meterChart = chart("chart-meter", {
        scales: { x: { time: true }, kw: { range: kwRange }, soc: { range: [0, 100] } },
        axes: [TIME_AXIS, { scale: "kw", label: "kW (export > 0)", values: kwTicks },
               { scale: "soc", side: 1, label: "SoC, %", grid: { show: false } }],
        series: [{}, { label: "power, kW", scale: "kw", stroke: "#1f77b4", width: 1.5, spanGaps: true,
                       value: function (u, v) { return kw(v); } },
                 { label: "SoC, %", scale: "soc", stroke: "#2ca02c", width: 1.5, spanGaps: true,
                   value: function (u, v) { return soc(v); } }],
      }, [mx, mp, ms]);
    }
    on("meter.sampled", function (d) {
      for (const row of rowsOf(d.station_id, d.evse_id)) {
        if (d.soc_percent != null) setText(field(row, "soc"), soc(d.soc_percent));
        if (d.import_kw != null) setText(field(row, "import"), kw(d.import_kw));
        if (d.export_kw != null) setText(field(row, "export"), kw(d.export_kw));
      }
      if (!meterChart || !curve.running || d.station_id !== page.station_id
          || d.transaction_id !== curve.transaction_id) return;
      const t = seconds(d.at);
      if (mx.length && t <= mx[mx.length - 1]) return;
      mx.push(t);
      mp.push(d.export_kw != null || d.import_kw != null ? (d.export_kw || 0) - (d.import_kw || 0) : null);
      ms.push(d.soc_percent != null ? d.soc_percent : null);
      meterChart.setData([mx, mp, ms]);
    });
    for (const c of page.composites) {
      if (!c.limited) continue;
      chart("chart-composite-" + c.evse_id, {
        height: 220, axes: kwAxis("kW"), scales: { x: { time: true }, y: { range: kwRange } },
        series: [{}, { label: "limit, kW", stroke: "#1f77b4", width: 2, paths: stepped(), value: function (u, v) { return kw(v); } },
                 { label: "discharge limit, kW", stroke: "#d62728", width: 2, paths: stepped(), value: function (u, v) { return kw(v); } },
                 { label: "set point, kW", stroke: "#2ca02c", width: 2, paths: stepped(), value: function (u, v) { return kw(v); } }],
      }, [c.times, c.limit_kw, c.discharge_kw, c.setpoint_kw]);
    }
  }

  const fleet = data("fleet-data");
  if (fleet) fleetPage(fleet);
  const event = data("event-data");
  if (event) eventPage(event);
  const station = data("station-data");
  if (station) stationPage(station);
  connect();
})();
