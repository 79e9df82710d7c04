"""Authentication by client certificate, as kube-apiserver's x509 authenticator does.

TLS verification against the cluster CA happens in the handshake (the server asks for a
certificate but does not require one, so health probes can come without); here the verified
certificate's CN becomes the user name and its O fields the groups. A request to the API
without a verified certificate gets 401.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

#: Paths kube-apiserver lets anyone read (system:public-info-viewer).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


def server_ssl_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context


def user_from_peercert(peercert: dict[str, Any] | None) -> User | None:
    """The user a verified peer certificate (ssl.getpeercert() form) names, if any."""
    if not peercert:
        return None
    name, groups = "", []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    if not name:
        return None
    return User(name, (*groups, "system:authenticated"))


def authenticate(request: web.Request) -> User | None:
    transport = request.transport
    if transport is None:
        return None
    return user_from_peercert(transport.get_extra_info("peercert"))
