"""A :class:`~tests.benchmarks.loadgen.Fleet` in a process of its own, driven over a pipe.

The CSMS benchmark measures the echo floor in the same minutes as the CSMS, in alternating
slices, so that a machine that gets busier or quieter during a run moves both figures alike.
The echo floor's stations then stay connected beside the CSMS's, and one process may not open
that many sockets (``RLIMIT_NOFILE``): this process holds the floor's fleet.

Protocol: one JSON object per line on stdin, one answer per line on stdout.

- ``{"op": "storm", "ids": [...], "deadline": s}`` -> ``{"seconds": s, "retries": n}``, or
  when not all were accepted within the deadline (default 600 s) ``{"seconds": null,
  "retries": null, "accepted": [the ids connected and accepted]}``
- ``{"op": "rate", "rate": r, "seconds": s}`` -> ``{"answered": n, "errors": n,
  "latencies": [...]}`` (seconds from send to answer)
- end of input: close every socket and exit.

Run: ``python tests/benchmarks/fleet_process.py --port P [--password PW] [--sources N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.loadgen import Fleet


async def serve(fleet: Fleet) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "storm":
                try:
                    seconds, retries = await fleet.storm(
                        request["ids"], deadline=request.get("deadline", 600.0))
                    answer = {"seconds": seconds, "retries": retries}
                except TimeoutError:  # not all in time: say which are in
                    answer = {"seconds": None, "retries": None, "accepted": [
                        s.identity for s in fleet.stations.values() if s.open and s.accepted]}
            elif request["op"] == "rate":
                fleet.stats.reset()
                await fleet.run_rate(request["rate"], request["seconds"])
                await asyncio.sleep(0.3)  # let the last answers in
                stats = fleet.stats
                answer = {"answered": stats.answered, "errors": stats.errors,
                          "latencies": stats.latencies}
            else:
                answer = {"error": f"unknown op {request['op']!r}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        fleet.close_all()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--password", default="")
    p.add_argument("--deflate", action="store_true")
    p.add_argument("--sources", type=int, default=1)
    opts = p.parse_args()
    asyncio.run(serve(Fleet(opts.host, opts.port, password=opts.password, deflate=opts.deflate,
                            sources=opts.sources)))


if __name__ == "__main__":
    main()
