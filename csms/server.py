"""The websockets server: handshake, identity, subprotocol, authentication, station sessions.

A station connects to ``ws(s)://host:port/<anything>/<identity>``. Before the websocket upgrade
the server checks, in order: the identity (last path segment, percent-decoded, 1 to 48
characters, no ``:``), a common OCPP subprotocol (the client's order of preference wins), the
connection limit, and HTTP Basic credentials (security profile 1). Failures are answered with an
HTTP status and no upgrade. A new authenticated connection for an identity replaces the old one.

With a TLS certificate the listener speaks TLS 1.2+ only and serves security profiles 2 (Basic
auth over TLS) and 3 (client certificate) together; each station's profile is stored with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import signal
import ssl
import time
from http import HTTPStatus
from typing import Any

import asyncpg
import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request, Response

from csms import metrics
from csms.blocks import handlers_for
from csms.blocks.station_context import BlockConfig, BlockHandler, StationContext
from csms.config import ServerConfig
from csms.gcpolicy import GcPolicy
from csms.grid.dispatcher import GridDispatcher
from csms.handshake import (
    PASSWORD_LENGTH,
    basic_credentials,
    choose_subprotocol,
    identity_from_path,
    offered_subprotocols,
)
from csms.logins import PasswordLogins
from csms.node import CONNECTED_CHANNEL, Node
from csms.ocppj import SUBPROTOCOLS, RpcConnection, get_validator
from csms.ocppj.push import PushConnection
from csms.operations import Operations
from csms.operations.costs import CostUpdater
from csms.security.password_key import load_keys
from csms.security.ratelimit import FailureLimiter
from csms.security.tls import is_tls, peer_common_name, server_context
from csms.session import BootGate, SessionHandlers, StationSession
from csms.store import events_feed, rotation, stations
from csms.store.coalesce import Coalesced
from csms.store.db import open_pool
from csms.store.meter_data import MeterMaintenance
from csms.uploads import UploadServer, start_uploads

log = structlog.get_logger("csms.server")


class CentralSystem:
    """One CSMS node: the websocket listener, the station sessions and the command router."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.pool: asyncpg.Pool | None = None
        self.operations: Operations | None = None
        self.sessions: dict[str, StationSession] = {}
        self.node: Node | None = None
        self.grid: GridDispatcher | None = None
        self.uploads: UploadServer | None = None
        self.costs: CostUpdater | None = None
        self.meter_data: MeterMaintenance | None = None
        self._server: Server | None = None
        self._block_config = BlockConfig(
            heartbeat_interval=config.heartbeat_interval, boot_policy=config.boot_policy,
            boot_retry_interval=config.boot_retry_interval)
        self._handlers = {v: handlers_for(v) for v in SUBPROTOCOLS.values()}
        self._closing: set[asyncio.Task[Any]] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._auth_failures = FailureLimiter(config.max_auth_failures, config.auth_failure_window)
        self._socket_budget = socket_budget()
        self._credentials: Coalesced[str, None, stations.StationCredentials] = Coalesced(
            lambda ids: stations.credentials_of(self._db(), list(ids)))
        self._connected: Coalesced[str, tuple[str, str | None], str] = Coalesced(
            lambda connections: stations.record_connections(
                self._db(), config.node_id, connections, CONNECTED_CHANNEL))
        self.logins: PasswordLogins | None = None
        self.log = log.bind(node_id=config.node_id)

    def _db(self) -> asyncpg.Pool:
        assert self.pool is not None
        return self.pool

    @property
    def port(self) -> int:
        """The TCP port actually listened on (useful with port 0)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Open the database (migrating it), start the command router, and listen."""
        if GcPolicy.current is not None:
            GcPolicy.current.attach(asyncio.get_running_loop())
        for version in SUBPROTOCOLS.values():
            get_validator(version).warm()
        keys = (load_keys(self.config.password_key_file, create=True)
                if self.config.password_key_file else None)
        self.pool = await open_pool(self.config.database_url, max_size=self.config.pool_size,
                                    application_name=f"csms {self.config.node_id}")
        self.logins = PasswordLogins(self.pool, keys)
        self.node = Node(self)
        await self.node.start()
        self.uploads = await start_uploads(self.pool, self.config.node_id, self.config.uploads)
        # Every node runs a dispatcher; the one holding the grid advisory lock leads.
        self.operations = Operations(self.pool, self.config.database_url)
        self.grid = GridDispatcher(self.operations, self.config.node_id)
        await self.grid.start()
        if self.config.cost_update_interval > 0:
            self.costs = CostUpdater(self.operations, self.config.node_id,
                                     self.config.cost_update_interval)
            await self.costs.start()
        if self.config.meter_rollup_interval > 0:
            self.meter_data = MeterMaintenance(
                self.pool, rollup_interval_s=self.config.meter_rollup_interval)
            await self.meter_data.start()
        if self.config.max_connections > self._socket_budget:
            self.log.warning(
                "max_connections_capped", max_connections=self.config.max_connections,
                sockets=self._socket_budget, open_files_limit=_open_files_limit(),
                detail="the open-file limit allows fewer station sockets than max_connections "
                "(raise LimitNOFILE / ulimit -n, or run more workers)")
        if self.config.auto_register:
            self.log.warning(
                "auto_register_enabled",
                detail="unknown stations are admitted and registered with the password they "
                "present; use only in a lab",
            )
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            # Messages are pushed to each session, no task waits on a quiet station.
            create_connection=_StationConnection,
            select_subprotocol=lambda _conn, offered: choose_subprotocol(list(offered)),
            subprotocols=list(SUBPROTOCOLS),
            # RFC 7692 permessage-deflate, with small windows: OCPP messages are small, and
            # each connection keeps its compressor and decompressor (docs/performance.md).
            compression=None,
            extensions=[ServerPerMessageDeflateFactory(
                server_max_window_bits=self.config.deflate_window_bits,
                client_max_window_bits=self.config.deflate_window_bits,
                compress_settings={"memLevel": self.config.deflate_mem_level})],
            max_size=self.config.max_message_size,
            open_timeout=self.config.handshake_timeout,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_timeout,
            close_timeout=self.config.close_timeout,
            server_header=None,
            ssl=self._tls_context(),
            backlog=self.config.backlog,
            reuse_port=self.config.reuse_port,
        )
        self.log.info("listening", host=self.config.host, port=self.port,
                      tls=bool(self.config.tls_cert),
                      client_certificates=bool(self.config.tls_client_ca))

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        if not self.config.tls_key:
            raise ValueError("a TLS certificate needs its key (--tls-key)")
        return server_context(self.config.tls_cert, self.config.tls_key,
                              self.config.tls_client_ca)

    async def stop(self) -> None:
        """Stop accepting, let the messages being handled finish and their answers go out,
        close every station socket (1001, going away), and record the node's stop."""
        if self._server is not None:
            self._server.server.close()  # no new connections from here on
            await self._drain()
            self._server.close()
            await self._server.wait_closed()
        if self.grid is not None:
            await self.grid.stop()
        if self.operations is not None:
            await self.operations.stop()
        if self.uploads is not None:
            await self.uploads.stop()
        if self.costs is not None:
            await self.costs.stop()
        if self.meter_data is not None:
            await self.meter_data.stop()
        if self.node is not None:
            await self.node.stop()
        for task in list(self._closing):
            task.cancel()
        if self.logins is not None:
            await self.logins.close()
        if self.pool is not None:
            await self.pool.close()
        self.log.info("stopped")

    async def _drain(self) -> None:
        """Wait until no station message is being handled (at most ``shutdown_grace`` s)."""
        try:
            async with asyncio.timeout(self.config.shutdown_grace):
                while self._in_flight:  # the next queued message may start at once
                    await self._idle.wait()
        except TimeoutError:
            self.log.warning("shutdown_grace_exceeded", in_flight=self._in_flight)

    async def _serve(self, gate: BootGate, context: StationContext, action: str,
                     handler: BlockHandler, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A station's call: behind its boot gate, counted while it runs so that a shutdown
        can wait for it, and measured (csms_messages_total, csms_message_seconds)."""
        self._in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        outcome = "error"
        try:
            gate.check(action)
            answer = await handler(context, payload)
            gate.answered(action, answer)
            outcome = "ok"
            return answer
        finally:
            metrics.message_handled(action, outcome, time.perf_counter() - started)
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def run_until_signalled(self) -> None:
        """Start, serve until SIGINT or SIGTERM, then stop cleanly."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            self.log.info("shutting_down")
            await self.stop()

    # -- the opening handshake -------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        remote = _remote(connection)
        identity = identity_from_path(request.path)
        if identity is None:
            self.log.info("handshake_refused", reason="bad_identity", path=request.path[:200],
                          remote=remote)
            return connection.respond(
                HTTPStatus.NOT_FOUND, "The path must end with a station identity of 1 to 48 "
                "characters without ':'.\n")
        offered = offered_subprotocols(request.headers)
        if choose_subprotocol(offered) is None:
            self.log.info("handshake_refused", reason="no_common_subprotocol",
                          station_id=identity, offered=offered, remote=remote)
            return connection.respond(
                HTTPStatus.BAD_REQUEST, "No supported OCPP subprotocol: ocpp2.0.1, ocpp2.1\n")
        if identity not in self.sessions and (
                len(self.sessions) >= self.config.max_connections
                or _StationConnection.open > self._socket_budget):
            # Past the budget of sockets, the node would run out of file descriptors for its
            # database connections and files; a refused station retries, and with several
            # workers the kernel hands the new connection to any of them.
            self.log.warning("handshake_refused", reason="max_connections", station_id=identity)
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections\n")
        address = remote.rsplit(":", 1)[0]
        if self._auth_failures.blocked("ip " + address) or self._auth_failures.blocked(
            "id " + identity
        ):
            self.log.warning("auth_rate_limited", station_id=identity, remote=remote)
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too many failed logins\n")
        refusal = await self._authenticate(identity, request.headers, remote,
                                           connection.transport)
        if refusal is not None:
            failures = max(self._auth_failures.record_failure("ip " + address),
                           self._auth_failures.record_failure("id " + identity))
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
            self.log.warning("auth_failed", station_id=identity, reason=refusal, remote=remote,
                             recent_failures=failures)
            return response
        self._auth_failures.reset("id " + identity)
        connection.csms_identity = identity  # type: ignore[attr-defined]
        return None

    async def _authenticate(
        self, identity: str, headers: Headers, remote: str, transport: Any
    ) -> str | None:
        """None when the station may connect, else the reason it may not (for the log).

        Profile 1: Basic auth. Profile 2: TLS and Basic auth. Profile 3: TLS with a client
        certificate that verifies against the configured CA and carries the identity as CN;
        a password alone never admits a profile-3 station.
        """
        assert self.pool is not None and self.logins is not None
        # the handshakes of a storm read their credentials together (csms.store.coalesce)
        known = await self._credentials(identity, None)
        credentials = basic_credentials(headers)
        if known is None:
            return await self._auto_register(identity, credentials, remote)
        if known.security_profile == 0:
            # Registered explicitly by an operator as "no authentication" (labs only).
            self.log.warning("unauthenticated_station_admitted", station_id=identity,
                             remote=remote)
            return None
        if known.security_profile >= 2 and not is_tls(transport):
            return "security_profile_requires_tls"
        if known.security_profile == 3:
            common_name = peer_common_name(transport)
            if common_name is None:
                return "client_certificate_required"
            return None if common_name == identity else "certificate_cn_differs_from_identity"
        if credentials is None:
            return "no_basic_credentials"
        username, password = credentials
        if username != identity:
            return "username_differs_from_identity"
        if not known.password_hash:
            return "no_password_set"
        if await self.logins.verify(identity, password, known.password_hash,
                                    known.password_verifier):
            return None
        # A01: during a rotation the station may already use the new password; logging in
        # with it proves the station has it, so the new one becomes current. Both hashes are
        # read again together: the rotation may have completed since the first read.
        current, pending = await rotation.password_hashes(self.pool, identity)
        for candidate in (pending, current):
            if candidate and candidate != known.password_hash and await self.logins.verify(
                identity, password, candidate
            ):
                if candidate == pending:
                    await rotation.accept_password_change(self.pool, identity, pending)
                    self.logins.remember(identity, password, pending)
                    self.log.info("password_rotated", station_id=identity, by="login")
                return None
        return "wrong_password"

    async def _auto_register(
        self, identity: str, credentials: tuple[str, str] | None, remote: str
    ) -> str | None:
        assert self.pool is not None and self.logins is not None
        if not self.config.auto_register:
            return "unknown_station"
        if credentials is None:
            return "no_basic_credentials"
        username, password = credentials
        if username != identity:
            return "username_differs_from_identity"
        if len(password) not in PASSWORD_LENGTH:
            return "password_length"
        hashed = await self.logins.hash(password)
        try:
            await stations.register_station(self.pool, identity, None, password_hash=hashed)
        except stations.StationExists:
            return "registration_race"
        self.logins.remember(identity, password, hashed)
        self.log.warning("station_auto_registered", station_id=identity, remote=remote)
        return None

    # -- a station's session ---------------------------------------------------------------

    async def _handle(self, websocket: ServerConnection) -> None:
        assert self.pool is not None and self.node is not None
        identity: str = websocket.csms_identity  # type: ignore[attr-defined]
        version = SUBPROTOCOLS[websocket.subprotocol or ""]
        slog = self.log.bind(station_id=identity)
        session = StationSession(identity, version, websocket)
        previous = self.sessions.get(identity)
        self.sessions[identity] = session
        if previous is not None:
            slog.info("connection_replaced", reason="new connection for the same identity")
            self._close_in_background(previous, "replaced by a new connection")
        remote = _remote(websocket)
        # Recorded as this node's, announced to the other nodes and fed as station.connected,
        # together with the other stations connecting at this moment (one statement).
        session.gate.status = await self._connected(
            identity, (websocket.subprotocol or "", remote))
        context = StationContext(
            station_id=identity, version=version, pool=self.pool, config=self._block_config,
            log=slog, node_id=self.config.node_id, operations=self.operations,
        )
        handlers = SessionHandlers(self._handlers[version],
                                   functools.partial(self._serve, session.gate, context))
        session.rpc = RpcConnection(websocket, version, handlers,
                                    call_timeout=self.config.call_timeout, log=slog)
        session.ready.set()
        slog.info("station_connected", subprotocol=websocket.subprotocol, remote=remote)
        pending = asyncio.create_task(self.node.deliver_pending(identity))
        gc_policy = GcPolicy.current
        if gc_policy is not None:
            gc_policy.connection_opened()
        metrics.STATIONS_CONNECTED.inc()
        try:
            await session.rpc.run()
        finally:
            if gc_policy is not None:
                gc_policy.connection_closed()
            metrics.STATIONS_CONNECTED.dec()
            pending.cancel()
            if self.sessions.get(identity) is session:
                del self.sessions[identity]
                with contextlib.suppress(Exception):
                    await stations.mark_disconnected(self.pool, identity, self.config.node_id)
                    await events_feed.station_disconnected(self.pool, identity, self.node.node_id)
            slog.info("station_disconnected", code=websocket.close_code,
                      reason=websocket.close_reason)

    def disconnect(self, station_id: str, reason: str) -> None:
        """Close the station's socket on this node, if it has one (another node took it)."""
        session = self.sessions.pop(station_id, None)
        if session is not None:
            self._close_in_background(session, reason)

    def _close_in_background(self, session: StationSession, reason: str) -> None:
        # A zombie socket may never finish its closing handshake: do not wait for it here.
        task = asyncio.create_task(session.websocket.close(1000, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


#: File descriptors a node keeps for everything but station sockets: its database pool and
#: listeners, the API's and uploads' sockets, log and upload files, sockets being refused.
FD_RESERVE = 512


def _open_files_limit() -> int | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def socket_budget() -> int:
    """The station sockets this process may hold: its open-file limit less
    :data:`FD_RESERVE` (read when the node starts, after ``tune_process`` raised it)."""
    limit = _open_files_limit()
    return 2**31 if limit is None else max(limit - FD_RESERVE, 1)


class _StationConnection(PushConnection):
    """A station's connection; one that ends before it became a session (a refused or
    timed-out handshake) is reported to the collector policy, whose full collections free the
    cycles such connections leave.

    ``open`` counts this process's station sockets, sessions and handshakes alike: each holds
    a file descriptor (see :func:`socket_budget`)."""

    open = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _StationConnection.open += 1
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        _StationConnection.open -= 1
        super().connection_lost(exc)
        policy = GcPolicy.current
        if policy is not None and not self.attached:
            policy.handshake_failed()


def _remote(connection: ServerConnection) -> str:
    try:
        host, port = connection.remote_address[:2]
    except (TypeError, ValueError):
        return ""
    return f"{host}:{port}"
