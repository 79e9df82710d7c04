"""Authentication by client certificate, as kube-apiserver's x509 authenticator does.

TLS verification against the cluster CA happens in the handshake (the server asks for a
certificate but does not require one, so pods with tokens and health probes come without);
here the verified certificate's CN becomes the user name and its O fields the groups.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from control_plane.apiserver.authentication.user import AUTHENTICATED, User


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
    return User(name, (*groups, AUTHENTICATED))


def certificate_user(request: web.Request) -> User | None:
    transport = request.transport
    if transport is None:
        return None
    return user_from_peercert(transport.get_extra_info("peercert"))
