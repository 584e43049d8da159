"""Settings of a CSMS server node."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class UploadSettings:
    """The node's HTTP upload endpoint (csms.uploads): where it listens, the base URL given to
    stations, where files go."""

    directory: Path
    host: str = "0.0.0.0"
    port: int = 0
    #: the base URL given to stations; default ``http://<host>:<port>`` (for a wildcard host,
    #: this machine's name)
    public_url: str | None = None
    max_bytes: int = 100 * 1024 * 1024
    reuse_port: bool = False


@dataclass
class ServerConfig:
    """Everything ``csms serve`` can be told; the defaults suit a production node."""

    host: str = "0.0.0.0"
    port: int = 9000
    #: A PostgreSQL URL; resolved from --database-url / CSMS_DATABASE_URL or the embedded server.
    database_url: str = ""
    #: Admit unknown stations, registering each with the password it presents (labs only).
    auto_register: bool = False
    heartbeat_interval: int = 300
    boot_policy: str = "accept"
    #: Seconds a Pending or Rejected station waits before its next BootNotification.
    boot_retry_interval: int = 60
    #: Seconds between CostUpdated rounds (the running cost of ongoing transactions, I02);
    #: 0: none are sent.
    cost_update_interval: float = 60.0
    #: Seconds between meter rollup runs (the daily partition, compaction and retention run
    #: starts one interval after start); 0: this node runs neither.
    meter_rollup_interval: float = 30.0
    #: Seconds to wait for a station's answer to a CSMS-initiated call.
    call_timeout: float = 30.0
    #: Largest incoming OCPP message, in bytes.
    max_message_size: int = 1024 * 1024
    #: Seconds allowed for the TCP + TLS + websocket opening handshake.
    handshake_timeout: float = 10.0
    #: websocket ping interval and timeout (seconds): a half-open socket is found within both.
    ping_interval: float | None = 30.0
    ping_timeout: float | None = 30.0
    #: Seconds to wait for a station's closing handshake (after a ping timeout, a takeover or
    #: at shutdown) before the TCP connection is dropped.
    close_timeout: float = 10.0
    #: At shutdown, seconds to let messages being handled finish before sockets close.
    shutdown_grace: float = 10.0
    #: How many stations may be connected to this node at once.
    max_connections: int = 20000
    #: Failed logins allowed per address and per identity within the window (then HTTP 429).
    max_auth_failures: int = 10
    auth_failure_window: float = 60.0
    #: Database connections in this node's pool.
    pool_size: int = 10
    #: permessage-deflate window (2**bits bytes, 9-15) for both directions, and zlib memLevel
    #: (1-9) of the compressor: about 2**(bits+2) + 2**(mem_level+9) bytes per connection.
    deflate_window_bits: int = 10
    deflate_mem_level: int = 4
    #: Pending TCP connections the kernel queues (a boot storm arrives all at once).
    backlog: int = 4096
    #: Share the port with other processes (``csms serve --workers N``, SO_REUSEPORT).
    reuse_port: bool = False
    #: Serve /metrics, /healthz and /readyz on this port (``csms serve --metrics-port``).
    metrics_port: int | None = None
    #: The event loop: "auto" (uvloop where installed), "uvloop" or "asyncio" (``csms serve
    #: --loop``).
    event_loop: str = "auto"
    #: The password key file (csms.security.password_key), made if missing; None: passwords
    #: are checked by scrypt and this node's cache only.
    password_key_file: Path | None = None
    node_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    #: The HTTP endpoint stations upload logs to (csms.uploads); None: the node has none.
    uploads: UploadSettings | None = None
