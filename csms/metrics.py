"""Prometheus metrics of CSMS processes (``csms serve --metrics-port``, ``csms api``).

Defined once here, at the bottom of the house (this module imports nothing of csms), and
updated where things happen. With several worker processes (``--workers N``) each process
writes its figures to files in ``PROMETHEUS_MULTIPROC_DIR`` (set by the parent before it
starts the workers) and :func:`exposition` adds them all up, whichever process is asked.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# -- the OCPP node -----------------------------------------------------------------------------

STATIONS_CONNECTED = Gauge("csms_stations_connected", "Stations whose socket this node holds",
                           multiprocess_mode="livesum")
MESSAGES = Counter("csms_messages_total", "Calls received from stations, by action and outcome "
                   "(ok: answered; error: answered with a CALLERROR)", ["action", "outcome"])
MESSAGE_SECONDS = Histogram("csms_message_seconds", "Time from a station's call to the CSMS's "
                            "answer (stored first)", ["action"], buckets=_LATENCY)
BATCH_SIZE = Histogram("csms_batch_size", "Messages per group-commit transaction",
                       buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000))
BATCH_SECONDS = Histogram("csms_batch_seconds", "Time a group-commit transaction took, from its "
                          "first statement to its commit", buckets=_LATENCY)
COMMANDS = Counter("csms_commands_total", "Calls the CSMS sent to stations, by final status",
                   ["action", "status"])
COMMAND_SECONDS = Histogram("csms_command_seconds", "Time from sending a call to a station to "
                            "its outcome", ["action"], buckets=_LATENCY)
PASSWORD_CHECKS = Counter("csms_password_checks_total", "Station password checks at login, by "
                          "what settled them (verifier: the stored fast verifier; cache: this "
                          "node's verified passwords; scrypt)", ["method"])
GC_PAUSE_SECONDS = Histogram("csms_gc_pause_seconds", "Garbage collections of a server process "
                             "and how long each held the interpreter, by generation (0-2: "
                             "young and automatic ones; 3: full collections of frozen objects)",
                             ["generation"], buckets=_LATENCY)
GRID_TARGET_KW = Gauge("csms_grid_event_target_kw", "Target export of an active grid event",
                       ["event"], multiprocess_mode="mostrecent")
GRID_MEASURED_KW = Gauge("csms_grid_event_measured_kw", "Measured export of an active grid "
                         "event at its last control step", ["event"],
                         multiprocess_mode="mostrecent")
SITE_ROOM_KW = Gauge("csms_site_room_kw", "A site's import room at the site controller's last "
                     "plan: import limit less building load less margin", ["site"],
                     multiprocess_mode="mostrecent")
SITE_HEADROOM_KW = Gauge("csms_site_headroom_kw", "What no charger of a site holds of its import "
                         "room at the last plan (negative: uncontrolled chargers exceed it)",
                         ["site"], multiprocess_mode="mostrecent")

# -- the HTTP API ------------------------------------------------------------------------------

HTTP_REQUESTS = Counter("csms_api_requests_total", "API requests, by route and status",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("csms_api_request_seconds", "API request latency (to the first byte "
                         "of a streamed answer)", ["method", "route"], buckets=_LATENCY)
API_CALLS = Counter("csms_api_calls_total", "Station calls made through the API, by outcome",
                    ["outcome"])
STREAMS_OPEN = Gauge("csms_api_streams_open", "Open /v1/stream connections",
                     multiprocess_mode="livesum")
WEBHOOK_BACKLOG = Gauge("csms_webhook_backlog", "Webhook deliveries pending",
                        multiprocess_mode="mostrecent")
WEBHOOK_ATTEMPTS = Counter("csms_webhook_attempts_total", "Webhook delivery attempts, by result "
                           "(delivered, retry, failed)", ["result"])


#: the per-action children of the message metrics, looked up once (this is the hot path)
_by_action: dict[str, tuple[Counter, Counter, Histogram]] = {}


def message_handled(action: str, outcome: str, seconds: float) -> None:
    """Count a station's call and how long the CSMS took to answer it (outcome: ok or
    error)."""
    children = _by_action.get(action)
    if children is None:
        children = (MESSAGES.labels(action, "ok"), MESSAGES.labels(action, "error"),
                    MESSAGE_SECONDS.labels(action))
        _by_action[action] = children
    (children[0] if outcome == "ok" else children[1]).inc()
    children[2].observe(seconds)


def command_done(action: str, sent_at: float | None, status: str) -> None:
    """Count a call sent to a station by its outcome, timed from ``sent_at`` (perf_counter)."""
    COMMANDS.labels(action, status).inc()
    if sent_at is not None:
        COMMAND_SECONDS.labels(action).observe(time.perf_counter() - sent_at)


def grid_step(event_id: int, target_kw: float | None, measured_kw: float) -> None:
    """Record a grid event's target and measured export at a control step."""
    GRID_TARGET_KW.labels(str(event_id)).set(target_kw if target_kw is not None else float("nan"))
    GRID_MEASURED_KW.labels(str(event_id)).set(measured_kw)


def site_planned(site: str, room_kw: float, headroom_kw: float) -> None:
    """Record a site's import room and headroom at a plan of the site controller."""
    SITE_ROOM_KW.labels(site).set(room_kw)
    SITE_HEADROOM_KW.labels(site).set(headroom_kw)


def grid_finished(event_id: int) -> None:
    """Forget a finished grid event's figures."""
    for gauge in (GRID_TARGET_KW, GRID_MEASURED_KW):
        try:
            gauge.remove(str(event_id))
        except KeyError:
            pass


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over the worker processes when
    there are several."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
