"""Instructions executed by a server process, counted by valgrind's callgrind.

CPU seconds depend on what else the machine runs (caches, the other core, frequency); the
number of instructions a process executes for the same work does not. A server started under
``valgrind --tool=callgrind --instr-atstart=no`` runs uninstrumented (about 5x slower) until
:meth:`Callgrind.start_counting`; then each :meth:`count` window zeroes the counters, runs a
load and dumps them: the instructions (callgrind's ``Ir``) the process executed in user space
meanwhile, all its threads together. Time spent in the kernel (system calls, the loopback
TCP stack) is not counted: for a server that mostly moves bytes, such as the echo floor, that
is most of its CPU time, so an instruction ratio is larger than the CPU-time ratio of the same
servers; it is the figure to compare across changes of the Python code, whatever the load of
the machine. (Not entirely independent of it: a server that falls behind its load answers in
larger group commits, so the benchmark runs at rates well below what callgrind can serve.)
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable
from pathlib import Path

#: callgrind's options: nothing collected per line or per call, only the totals matter here
OPTIONS = ["--tool=callgrind", "--instr-atstart=no", "--dump-line=no", "--compress-strings=yes",
           "--combine-dumps=no"]


def available() -> bool:
    """True when valgrind and callgrind_control are installed."""
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def command(out_dir: Path, name: str) -> list[str]:
    """The prefix that runs a program under callgrind, dumping into ``out_dir/name.<pid>.*``."""
    return ["valgrind", *OPTIONS, f"--callgrind-out-file={out_dir / name}.%p"]


class Callgrind:
    """The callgrind of one running process (its pid is the valgrind process's own)."""

    def __init__(self, pid: int, out_dir: Path, name: str):
        self.pid = pid
        self.out_dir = out_dir
        self.name = name

    async def _control(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "callgrind_control", *args, str(self.pid),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        if await process.wait() != 0:
            raise RuntimeError(f"callgrind_control {' '.join(args)} {self.pid} failed")

    async def start_counting(self) -> None:
        """Instrument from now on (the process ran uninstrumented until now)."""
        await self._control("--instr=on")

    def _dumps(self) -> set[Path]:
        return set(self.out_dir.glob(f"{self.name}.{self.pid}.*"))

    async def count(self, work: Awaitable[object]) -> int:
        """Instructions the process executed while ``work`` ran."""
        await self._control("--zero")
        before = self._dumps()
        await work
        await self._control("--dump")
        new = sorted(self._dumps() - before, key=lambda p: p.stat().st_mtime)
        if not new:
            raise RuntimeError(f"callgrind wrote no dump for process {self.pid}")
        return read_total(new[-1])


def read_total(dump: Path) -> int:
    """The ``Ir`` total of one callgrind dump file."""
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")
