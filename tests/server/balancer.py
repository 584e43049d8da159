"""A layer-4 load balancer in front of CSMS nodes on one machine, as HAProxy ``mode tcp`` with
``balance roundrobin`` would be in front of nodes on several: each new connection goes to the
next node that accepts a TCP connection; when either side closes, so does the other."""

from __future__ import annotations

import asyncio
import contextlib


class Balancer:
    """Listens on 127.0.0.1 and spreads connections over ``backends`` (ports on 127.0.0.1)."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self._next = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(self.backends)):
            port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue  # that node is down: the health check fails, try the next
            task = asyncio.current_task()
            assert task is not None
            self._pipes.add(task)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._pipes.discard(task)
            return
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()
