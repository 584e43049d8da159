"""The garbage-collector policy of a server process (installed by ``csms serve``)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import structlog

from csms.metrics import GC_PAUSE_SECONDS

log = structlog.get_logger("csms.gc")


class GcPolicy:
    """How a server process's garbage collector runs: young collections only, often and small;
    full ones when connections have closed.

    CPython's generational collector walks every object of the generations it collects. A node
    with 10,000 stations holds about a million long-lived objects (sockets, protocol state,
    sessions); with the default policy they sit in the middle and old generations and are
    walked again and again: collections of 0.1 to 3 s that stall every station's answer
    (measured at 10,000 stations: 60-270 ms young, 750 ms middle, 2.9 s full collections, a
    p99 of 150 ms at 2,000 messages/s).

    Here every object that survives a young collection is frozen (``gc.freeze()``: kept out of
    all later automatic collections), so a collection only walks what was made since the
    previous one, and the middle and old generations stay empty. Reference counting frees
    frozen objects as usual; only garbage *cycles* among them wait for a full collection. The
    cycles a server makes come from connections that close (a closed websocket connection
    leaves about a hundred objects in cycles), so a full collection runs, in a thread of its
    own (it holds the interpreter lock like any collection), once connections numbering
    ``closed_share`` of the most ever open at once have closed (at least ``closed_min``;
    so a reconnect storm of the whole fleet costs two full collections), and at least
    every ``max_interval`` seconds for any other cycle; the server reports closed connections
    through :meth:`connection_closed`.

    Young collections also run every ``young_interval`` seconds on the server's event loop
    (:meth:`attach`), besides CPython's own trigger (``young`` more allocations than
    deallocations). That trigger alone is blind to a server's steady state: each message
    replaces objects a station holds (its frame parser's state, a keepalive timer, a waiting
    future), and the old one's deallocation cancels the new one's allocation in the count,
    while the young generation fills with the replacements. At 10,000 stations and 2,000
    messages/s it held 100,000-160,000 live objects when the count finally triggered, every
    13-20 s, and walking them held every answer for 45-170 ms. On a clock, a collection walks
    what a quarter of a second made. The clock runs between the loop's callbacks, not in the
    collector's thread: a thread would take the interpreter lock from the loop four times a
    second, and on a machine with more busy processes than cores each hand-over waits for the
    scheduler (measured: p50 7 -> 14 ms with three workers on two cores).

    Every collection is timed into the ``csms_gc_pause_seconds`` histogram; one over
    ``slow_ms`` is also logged as ``gc_pause`` (generation, milliseconds, objects collected),
    so an operator sees the stalls behind a latency tail. ``pauses[generation]`` counts
    collections and their total seconds (index 3: the full ones run by this policy).
    """

    #: The policy installed in this process, if any.
    current: GcPolicy | None = None

    def __init__(self, young: int = 20_000, closed_share: float = 0.5, closed_min: int = 1000,
                 max_interval: float = 3600.0, slow_ms: float = 50.0,
                 young_interval: float = 0.25):
        self.young = young
        self.young_interval = young_interval
        self.closed_share = closed_share
        self.closed_min = closed_min
        self.max_interval = max_interval
        self.slow_s = slow_ms / 1000
        self.pauses = [[0, 0.0] for _ in range(4)]
        self.open_connections = 0
        self.peak_connections = 0
        self._closed = 0
        self._closed_limit = closed_min
        self._started = 0.0
        self._full_running = False
        self._due = threading.Event()
        self._histograms = [GC_PAUSE_SECONDS.labels(str(generation)) for generation in range(4)]
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    def install(self) -> None:
        """Freeze what exists now (modules, compiled validators) and take over the collector."""
        if GcPolicy.current is not None:
            return
        GcPolicy.current = self
        gc.collect()
        gc.freeze()
        gc.set_threshold(self.young, 10, 10)
        gc.callbacks.append(self)
        threading.Thread(target=self._full_collections, name="csms-gc", daemon=True).start()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the young collections on ``loop`` every ``young_interval`` seconds, between its
        callbacks (once per loop)."""
        if loop in self._loops:
            return
        self._loops.add(loop)

        def collect() -> None:
            gc.collect(0)
            loop.call_later(self.young_interval, collect)

        loop.call_later(self.young_interval, collect)

    def connection_opened(self) -> None:
        self.open_connections += 1
        if self.open_connections > self.peak_connections:
            self.peak_connections = self.open_connections
            self._closed_limit = max(self.closed_min,
                                     int(self.closed_share * self.peak_connections))

    def connection_closed(self) -> None:
        """A connection closed: its cycles wait in the frozen objects."""
        self.open_connections -= 1
        self._closed += 1
        if self._closed >= self._closed_limit:
            self._due.set()

    def handshake_failed(self) -> None:
        """A connection ended before it became a session (refused, or its opening handshake
        timed out): it was never counted open, but leaves cycles all the same. A long storm
        makes thousands of these, and their garbage waited for the hourly full collection
        (1.3 GB in each of two workers after 10 minutes of a 36,000-station storm)."""
        self._closed += 1
        if self._closed >= self._closed_limit:
            self._due.set()

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        generation = 3 if self._full_running else info.get("generation", 2)
        entry = self.pauses[generation]
        entry[0] += 1
        entry[1] += seconds
        self._histograms[generation].observe(seconds)
        if seconds >= self.slow_s:
            log.warning(
                "gc_pause", generation=generation, ms=round(seconds * 1000, 1),
                collected=info.get("collected", 0))
        if not self._full_running:
            gc.freeze()

    def collect_all(self) -> int:
        """A full collection over every object, frozen ones included; returns what it freed."""
        self._closed = 0
        self._full_running = True
        try:
            gc.unfreeze()
            collected = gc.collect()
            gc.freeze()
        finally:
            self._full_running = False
        return collected

    def _full_collections(self) -> None:
        while True:
            self._due.wait(self.max_interval)
            self._due.clear()
            self.collect_all()
