"""The node's HTTP upload endpoint over real sockets: PUT and multipart POST stored and
recorded, unknown tokens, wrong methods and oversized bodies refused, keep-alive."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg
import pytest

from csms.config import UploadSettings
from csms.store import commands, logs, stations
from csms.store.db import open_pool
from csms.uploads import UploadServer, safe_name

TOKEN = "tok-123"


@pytest.fixture
async def pool(migrated_url: str):
    p = await open_pool(migrated_url, min_size=1, max_size=4)
    await stations.register_station(p, "CP/1", "correct horse battery staple")
    await commands.register_node(p, "node-1")
    await logs.add_request(p, "CP/1", 42, "DiagnosticsLog", "http://x/logs/" + TOKEN,
                           upload_token=TOKEN, oldest_at=None, latest_at=None)
    yield p
    await p.close()


@pytest.fixture
async def server(pool: asyncpg.Pool, tmp_path: Path):
    upload = UploadServer(pool, "node-1", UploadSettings(tmp_path, host="127.0.0.1",
                                                         max_bytes=1000))
    await upload.start()
    yield upload
    await upload.stop()


async def exchange(server: UploadServer, *requests: bytes) -> list[int]:
    """Send the requests on one connection; the status code of each answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = []
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            status = await reader.readline()
            lines.append(int(status.split()[1]))
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            await reader.readexactly(length)
    finally:
        writer.close()
    return lines


def put(path: str, body: bytes) -> bytes:
    return (f"PUT {path} HTTP/1.1\r\nHost: csms\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


async def test_put_is_stored_and_recorded(server, pool, tmp_path):
    assert server.base_url.startswith("http://127.0.0.1:")
    assert (await logs.endpoint_for(pool, "CP/1")).base_url == server.base_url
    body = b"line 1\nline 2\n"
    assert await exchange(server, put(f"/logs/{TOKEN}/station.log", body),
                          put(f"/logs/{TOKEN}", b"again")) == [201, 201]
    [request] = await logs.list_requests(pool, station_id="CP/1")
    first, second = request.files
    assert (first.filename, first.size_bytes) == ("station.log", len(body))
    assert first.sha256 == hashlib.sha256(body).hexdigest()
    assert Path(first.path) == (tmp_path / "CP_2F1" / "42" / "station.log").resolve()
    assert await asyncio.to_thread(Path(first.path).read_bytes) == body
    assert second.filename == "DiagnosticsLog-42.log"


async def test_multipart_post_keeps_the_file_part(server, pool):
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\";"
            f" filename=\"diag.tar.gz\"\r\nContent-Type: application/gzip\r\n\r\n"
            f"PAYLOAD\r\n--{boundary}--\r\n").encode()
    request = (f"POST /logs/{TOKEN} HTTP/1.1\r\nHost: csms\r\nContent-Type: multipart/form-data;"
               f" boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n"
               f"{len(body):x}\r\n").encode() + body + b"\r\n0\r\n\r\n"
    assert await exchange(server, request) == [201]
    [request_row] = await logs.list_requests(pool, station_id="CP/1")
    [stored] = request_row.files
    assert stored.filename == "diag.tar.gz"
    assert await asyncio.to_thread(Path(stored.path).read_bytes) == b"PAYLOAD"


async def test_refusals(server, pool, tmp_path):
    assert await exchange(server, put("/logs/unknown", b"x")) == [404]
    assert await exchange(server, b"GET /logs/" + TOKEN.encode() + b" HTTP/1.1\r\nHost: c\r\n\r\n"
                          ) == [405]
    assert await exchange(server, put(f"/logs/{TOKEN}", b"x" * 1001)) == [413]
    chunked = (f"PUT /logs/{TOKEN} HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3e9\r\n").encode() + b"y" * 1001 + b"\r\n0\r\n\r\n"
    assert await exchange(server, chunked) == [413]
    [request] = await logs.list_requests(pool, station_id="CP/1")
    assert request.files == ()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_safe_name():
    assert safe_name("../../etc/passwd", "x") == "_.._etc_passwd"
    assert safe_name("..", "fallback") == "fallback"
    assert safe_name("log 1.txt", "x") == "log_1.txt"
