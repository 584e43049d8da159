"""TLS for the station listener (security profiles 2 and 3, OCPP 2.0.1 Part 2 A00)."""

from __future__ import annotations

import ssl
from typing import Any


def server_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """A server TLS context: TLS 1.2 or newer only (TC_A_06), and, with ``client_ca``, a
    client certificate requested and verified against that CA (profile 3, TC_A_07/08).

    The certificate is optional at the TLS layer so that profile-2 stations (no client
    certificate) share the listener; the server then requires one of profile-3 stations.
    A certificate that is presented but does not verify (unknown CA, expired) fails the
    handshake.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def peer_common_name(transport: Any) -> str | None:
    """The CN of the verified client certificate on ``transport``, or None."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return value
    return None


def is_tls(transport: Any) -> bool:
    """True when ``transport`` carries TLS."""
    return transport is not None and transport.get_extra_info("ssl_object") is not None
