"""The node's HTTP upload endpoint: stations upload here the logs asked for with GetLog (N01).

``PUT <base>/logs/<token>[/<filename>]`` with the file as the body, or ``POST`` to the same
URL with the file as the body or as ``multipart/form-data`` (the first part that carries a
file, else the first part): the ways charging stations upload. The token, issued with one
GetLog request, names the station and the request; anything else is 404. Files are written
under ``<directory>/<station>/<requestId>/`` and recorded in ``log_files`` with their size and
SHA-256.

HTTP/1.1 framing (Content-Length, chunked, keep-alive, ``Expect: 100-continue``) is h11's, the
protocol library uvicorn is built on; multipart parsing is python-multipart's (FastAPI's), both
streamed, so an upload never sits in memory whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import socket
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import asyncpg
import h11
import structlog
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from csms.config import UploadSettings
from csms.store import logs

log = structlog.get_logger("csms.uploads")

UPLOAD_PREFIX = "/logs/"
#: Seconds a connection may stay silent (headers or body) before it is closed.
IDLE_TIMEOUT = 30.0
_CHUNK = 64 * 1024
_WILDCARD_HOSTS = ("", "0.0.0.0", "::", "*")


def safe_name(text: str, fallback: str) -> str:
    """``text`` as one file or directory name: no separators, no leading dot, at most 128
    characters; ``fallback`` when nothing usable is left."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".")[:128]
    return name or fallback


def base_url(host: str, port: int) -> str:
    """The default base URL of an endpoint bound to ``host``:``port``."""
    if host in _WILDCARD_HOSTS:
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class UploadError(Exception):
    """An upload refused with an HTTP status."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Sink:
    """Where one upload's bytes go: a temporary file, hashed and counted as written."""

    def __init__(self, directory: Path, max_bytes: int):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        self.temp = directory / f".upload-{os.getpid()}-{id(self)}"
        self.file = self.temp.open("wb")
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise UploadError(413, f"larger than {self.max_bytes} bytes")
        self.sha256.update(data)
        self.file.write(data)

    def keep(self, filename: str) -> Path:
        """Close and move to ``filename`` (a new name if that one is taken)."""
        self.file.close()
        target = self.directory / filename
        stem, dot, ext = filename.partition(".")
        n = 1
        while target.exists():
            n += 1
            target = self.directory / f"{stem}-{n}{dot}{ext}"
        self.temp.rename(target)
        return target

    def discard(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


class _Multipart:
    """Streams the first part of a multipart/form-data body that carries a file (a
    Content-Disposition with a filename) into a sink; other parts (form fields) are skipped."""

    def __init__(self, boundary: bytes, sink: _Sink):
        self.sink = sink
        self.filename: str | None = None
        self._writing = False
        self._name = b""
        self._value = b""
        self._disposition = b""
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done, "on_part_data": self._data,
            "on_part_end": self._end})

    def _begin(self) -> None:
        self._disposition = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name = self._value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._disposition)
        filename = options.get(b"filename")
        if filename is not None and self.filename is None:
            self.filename = filename.decode("utf-8", "replace") or "upload"
            self._writing = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._writing:
            self.sink.write(data[start:end])

    def _end(self) -> None:
        self._writing = False

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the body."""
        self.parser.write(data)

    def finish(self) -> None:
        """The body has ended; a body without a file part is refused."""
        self.parser.finalize()
        if self.filename is None:
            raise UploadError(400, "the multipart body has no file part")


class UploadServer:
    """The endpoint of one node; :meth:`start` listens and records its base URL."""

    def __init__(self, pool: asyncpg.Pool, node_id: str, settings: UploadSettings):
        self.pool = pool
        self.node_id = node_id
        self.settings = settings
        self.base_url = ""
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[Any]] = set()
        self.log = log.bind(node_id=node_id)

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Listen, and record this node's endpoint for the CLI to hand out."""
        s = self.settings
        s.directory.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_server(
            self._client, s.host, s.port, reuse_port=s.reuse_port or None)
        self.base_url = (s.public_url or base_url(s.host, self.port)).rstrip("/")
        await logs.register_endpoint(self.pool, self.node_id, self.base_url,
                                     str(s.directory.resolve()))
        self.log.info("upload_endpoint_listening", url=self.base_url,
                      directory=str(s.directory))

    async def stop(self) -> None:
        """Stop listening, end the uploads in progress, forget the endpoint."""
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await self._server.wait_closed()
        with contextlib.suppress(Exception):
            await logs.remove_endpoint(self.pool, self.node_id)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        conn = h11.Connection(h11.SERVER)
        peer = writer.get_extra_info("peername")
        remote = f"{peer[0]}:{peer[1]}" if peer else None
        try:
            while conn.our_state is not h11.MUST_CLOSE and conn.their_state is not h11.CLOSED:
                event = await self._next(conn, reader)
                if isinstance(event, h11.ConnectionClosed):
                    break
                if not isinstance(event, h11.Request):
                    break
                status, body = await self._request(conn, reader, writer, event, remote)
                self._send(conn, writer, status, body)
                await writer.drain()
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                else:
                    break
        except (h11.RemoteProtocolError, TimeoutError, ConnectionError) as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and not isinstance(
                    exc, ConnectionError):
                with contextlib.suppress(Exception):
                    self._send(conn, writer, 400, f"bad request: {exc}\n")
                    await writer.drain()
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(_CHUNK), IDLE_TIMEOUT)
            conn.receive_data(data)

    def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int,
              body: str) -> None:
        data = body.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Length", str(len(data)))]
        if conn.their_state is not h11.DONE:
            headers.append(("Connection", "close"))  # the rest of the body is not read
        writer.write(conn.send(h11.Response(status_code=status, headers=headers,
                                            reason=HTTPStatus(status).phrase.encode())) or b"")
        writer.write(conn.send(h11.Data(data=data)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")

    async def _request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, request: h11.Request,
                       remote: str | None) -> tuple[int, str]:
        method = request.method.decode()
        path = request.target.decode("ascii", "replace").split("?", 1)[0]
        if not path.startswith(UPLOAD_PREFIX):
            return 404, "not found\n"
        token, _, name = path[len(UPLOAD_PREFIX):].partition("/")
        if method not in ("PUT", "POST"):
            return 405, "use PUT or POST\n"
        target = await logs.upload_target(self.pool, unquote(token))
        if target is None:
            self.log.warning("upload_refused", reason="unknown_token", remote=remote)
            return 404, "no such upload\n"
        headers = {k.lower(): v for k, v in request.headers}
        length = headers.get(b"content-length")
        if length is not None and int(length) > self.settings.max_bytes:
            return 413, f"larger than {self.settings.max_bytes} bytes\n"
        directory = (self.settings.directory / safe_name(quote(target.station_id, safe=""),
                                                         "station")
                     / str(target.request_id))
        sink = _Sink(directory, self.settings.max_bytes)
        try:
            kind, options = parse_options_header(headers.get(b"content-type", b""))
            multipart = None
            if method == "POST" and kind == b"multipart/form-data":
                if b"boundary" not in options:
                    raise UploadError(400, "multipart body without a boundary")
                multipart = _Multipart(options[b"boundary"], sink)
            if conn.they_are_waiting_for_100_continue:
                writer.write(conn.send(h11.InformationalResponse(status_code=100)) or b"")
                await writer.drain()
            while True:
                event = await self._next(conn, reader)
                if isinstance(event, h11.Data):
                    if multipart is not None:
                        multipart.feed(event.data)
                    else:
                        sink.write(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise UploadError(400, "the body ended early")
            if multipart is not None:
                multipart.finish()
            chosen = (unquote(name) or (multipart.filename if multipart else None)
                      or target.filename or f"{target.log_type}-{target.request_id}.log")
            path_kept = sink.keep(safe_name(chosen, f"{target.log_type}.log"))
        except UploadError as exc:
            sink.discard()
            self.log.warning("upload_refused", station_id=target.station_id,
                             request_id=target.request_id, reason=exc.reason)
            return exc.status, exc.reason + "\n"
        except BaseException:
            sink.discard()
            raise
        content_type = headers.get(b"content-type", b"").decode("latin-1") or None
        await logs.add_file(self.pool, target.station_id, target.request_id, path_kept.name,
                            str(path_kept.resolve()), sink.size, sink.sha256.hexdigest(),
                            content_type, self.node_id, remote)
        self.log.info("log_uploaded", station_id=target.station_id,
                      request_id=target.request_id, file=str(path_kept), bytes=sink.size)
        return 201, "stored\n"


async def start_uploads(pool: asyncpg.Pool, node_id: str,
                        settings: UploadSettings | None) -> UploadServer | None:
    """Start a node's upload endpoint (None when the node has no upload directory)."""
    if settings is None:
        return None
    server = UploadServer(pool, node_id, settings)
    await server.start()
    return server
