"""A real HTTPS server for webhook tests: its own CA, a certificate for localhost, and the
CA as the base64 bundle a webhook configuration carries."""

from __future__ import annotations

import base64
import contextlib
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ku7s.pki import CertificateAuthority

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def https_server(
    routes: dict[str, Handler],
    *,
    dns_names: tuple[str, ...] = ("localhost",),
    client_ca_pem: bytes | None = None,
    method: str = "POST",
) -> AsyncIterator[tuple[str, str]]:
    """Serve routes over TLS (requiring a client certificate signed by client_ca_pem, when
    given); yield (base URL, caBundle)."""
    ca = CertificateAuthority.create("webhook-test")
    pair = ca.issue_server("webhook", list(dns_names), ["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as directory:
        cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        context.load_cert_chain(cert, key)
    if client_ca_pem is not None:
        context.load_verify_locations(cadata=client_ca_pem.decode())
        context.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://localhost:{port}", base64.b64encode(ca.cert_pem).decode()
    finally:
        await runner.cleanup()
