"""Real HTTP services on 127.0.0.1 for tests: an OCSP responder built with cryptography's
OCSP response builder, and a contract-certificate backend answering JSON.

Each runs a ``ThreadingHTTPServer`` in a thread of its own; use them as context managers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.security.factories import Issued


class _Service:
    """An HTTP server on 127.0.0.1 whose POSTs go to :meth:`answer`."""

    path = "/"

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.requests.append(body)
                code, content_type, answer = service.answer(self.path, body)
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def answer(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class OcspResponder(_Service):
    """Answers for the certificates ``issuer`` issued: ``statuses`` maps serial numbers to
    good / revoked (any other serial is unknown). It signs with ``signer`` (a delegated
    responder) or the issuer's own key, and includes ``include`` certificates."""

    path = "/ocsp"

    def __init__(self, issuer: Issued, *, signer: Issued | None = None,
                 include: tuple[Issued, ...] | None = None,
                 next_update: dt.timedelta | None = dt.timedelta(hours=1)) -> None:
        super().__init__()
        self.issuer = issuer
        self.signer = signer or issuer
        self.include = include if include is not None else (self.signer,)
        self.next_update = next_update
        self.statuses: dict[int, str] = {}
        self.asked: list[int] = []

    def good(self, issued: Issued) -> None:
        self.statuses[issued.certificate.serial_number] = "good"

    def revoke(self, issued: Issued) -> None:
        self.statuses[issued.certificate.serial_number] = "revoked"

    def answer(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        request = ocsp.load_der_ocsp_request(body)
        self.asked.append(request.serial_number)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        status = self.statuses.get(request.serial_number)
        cert_status = {"good": ocsp.OCSPCertStatus.GOOD,
                       "revoked": ocsp.OCSPCertStatus.REVOKED}.get(status or "",
                                                                   ocsp.OCSPCertStatus.UNKNOWN)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            request.issuer_name_hash, request.issuer_key_hash, request.serial_number,
            request.hash_algorithm, cert_status, now,
            now + self.next_update if self.next_update else None,
            now if cert_status is ocsp.OCSPCertStatus.REVOKED else None, None)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.signer.certificate)
        if self.include:
            builder = builder.certificates([i.certificate for i in self.include])
        response = builder.sign(self.signer.key, hashes.SHA256())
        return 200, "application/ocsp-response", response.public_bytes(
            serialization.Encoding.DER)


class ContractBackend(_Service):
    """Answers Get15118EVCertificate forwards with ``reply(request) -> (code, json)``."""

    path = "/contracts"

    def __init__(self, reply: Callable[[dict[str, Any]], tuple[int, Any]] | None = None):
        super().__init__()
        self.reply = reply or (lambda request: (200, {
            "status": "Accepted", "exiResponse": "RVhJLXJlc3BvbnNl", "remainingContracts": 0}))

    @property
    def received(self) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.requests]

    def answer(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        code, data = self.reply(json.loads(body))
        text = data if isinstance(data, str) else json.dumps(data)
        return code, "application/json", text.encode()
