"""The server's garbage-collector policy (csms.gcpolicy), in a fresh interpreter each: it
takes over the collector of its whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(script: str, *, stderr: bool = False) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return (result.stderr if stderr else result.stdout).strip()


def test_survivors_of_a_young_collection_are_frozen_and_their_cycles_wait_for_a_full_one() -> None:
    out = run("""
        import gc, weakref
        from csms.gcpolicy import GcPolicy

        class Node:
            pass

        policy = GcPolicy(max_interval=3600, slow_ms=1e9)  # a slow machine logs no pause
        policy.install()
        node = Node()
        node.me = node                      # a cycle
        ref = weakref.ref(node)
        frozen = gc.get_freeze_count()
        gc.collect(0)                       # node survives (still referenced): frozen
        assert gc.get_freeze_count() > frozen, "survivors not frozen"
        del node                            # now cyclic garbage among frozen objects
        gc.collect(0); gc.collect(1)
        assert ref() is not None, "a frozen cycle was collected by a young collection"
        policy.collect_all()
        assert ref() is None, "the full collection missed the cycle"
        assert policy.pauses[3][0] == 1
        print("ok")
    """)
    assert out == "ok"


def test_closed_connections_trigger_a_full_collection_in_the_background() -> None:
    out = run("""
        import gc, time, weakref
        from csms.gcpolicy import GcPolicy

        class Node:
            pass

        policy = GcPolicy(closed_share=0.5, closed_min=10, max_interval=3600)
        policy.install()
        node = Node(); node.me = node; ref = weakref.ref(node)
        gc.collect(0); del node
        for _ in range(40):
            policy.connection_opened()
        for _ in range(19):                 # below half of the peak of 40
            policy.connection_closed()
        time.sleep(0.5)
        assert policy.pauses[3][0] == 0 and ref() is not None, "full collection too early"
        policy.connection_closed()          # the 20th
        deadline = time.monotonic() + 10
        while policy.pauses[3][0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert policy.pauses[3][0] == 1, "no full collection"
        assert ref() is None
        print("ok", policy.open_connections, policy.peak_connections)
    """)
    assert out == "ok 20 40"


def test_a_slow_collection_is_logged() -> None:
    out = run("""
        import gc
        from csms.logging import configure_logging
        from csms.gcpolicy import GcPolicy

        configure_logging("info", "json")
        policy = GcPolicy(slow_ms=0.0)      # every collection counts as slow
        policy.install()
        gc.collect(0)
    """, stderr=True)
    assert '"event": "gc_pause"' in out and '"generation": 0' in out


def test_young_collections_run_on_the_loop_s_clock_when_the_count_does_not_trigger_them(
) -> None:
    # A server's steady state replaces objects as fast as it makes them: the allocation count
    # never reaches the threshold while the young generation fills with the replacements.
    out = run("""
        import asyncio, gc, threading
        from csms import metrics
        from csms.gcpolicy import GcPolicy

        class Station:
            pass

        policy = GcPolicy(young=10**9, young_interval=0.05, slow_ms=1e9)
        policy.install()
        threads = []
        gc.callbacks.append(lambda phase, info: threads.append(threading.get_ident()))

        async def main():
            loop = asyncio.get_running_loop()
            policy.attach(loop)
            policy.attach(loop)             # once per loop
            stations = [Station() for _ in range(1000)]
            frozen = gc.get_freeze_count()
            for _ in range(50):             # each round replaces every station's object
                stations = [Station() for _ in range(1000)]
            assert gc.get_count()[0] < 10**6
            await asyncio.sleep(0.03)
            assert gc.get_freeze_count() < frozen + 1000, "collected before the interval"
            for _ in range(200):
                if gc.get_freeze_count() >= frozen + 1000:
                    break
                await asyncio.sleep(0.02)
            assert gc.get_freeze_count() >= frozen + 1000, "the young survivors were not collected"
            started = policy.pauses[0][0]
            await asyncio.sleep(0.5)
            return started, policy.pauses[0][0]

        started, later = asyncio.run(main())
        assert started >= 1 and policy.pauses[3][0] == 0
        assert 4 <= later - started <= 12, (started, later)   # every 0.05 s, once per loop
        assert set(threads) == {threading.get_ident()}, "collected outside the loop's thread"
        samples = {s.name: s.value for m in metrics.GC_PAUSE_SECONDS.collect()
                   for s in m.samples if s.labels.get("generation") == "0"}
        assert samples["csms_gc_pause_seconds_count"] >= later
        print("ok")
    """)
    assert out == "ok"
