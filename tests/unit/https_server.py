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
async def https_server(routes: dict[str, Handler]) -> AsyncIterator[tuple[str, str]]:
    """Serve POST routes over TLS; yield (base URL, caBundle)."""
    ca = CertificateAuthority.create("webhook-test")
    pair = ca.issue_server("webhook", ["localhost"], ["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as directory:
        cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        context.load_cert_chain(cert, key)
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://localhost:{port}", base64.b64encode(ca.cert_pem).decode()
    finally:
        await runner.cleanup()
