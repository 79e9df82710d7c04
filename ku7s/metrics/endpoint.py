"""A component's ``/metrics``: its registry as Prometheus text, over plain HTTP on a port of
the container's address on the cluster network. That network is reachable from the host
and the other nodes only, so these ports are read-only metrics ports, as the kubelet's old
10255 was; the API server's own ``/metrics`` stays behind its TLS and credentials."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

log = logging.getLogger("metrics")

#: The classic text format, which every Prometheus release reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_response(registry: CollectorRegistry) -> web.Response:
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_metrics_routes(app: web.Application, registries: dict[str, CollectorRegistry]) -> None:
    """Serve each registry at its path on an application (the endpoint's or a component's)."""
    for path, registry in registries.items():

        async def serve(_: web.Request, registry: CollectorRegistry = registry) -> web.Response:
            return metrics_response(registry)

        app.router.add_get(path, serve)


class MetricsEndpoint:
    """Serves each registry at its path (``/metrics`` by default) until stopped."""

    def __init__(
        self,
        registries: dict[str, CollectorRegistry],
        port: int,
        host: str = "0.0.0.0",
    ) -> None:
        self._registries = registries
        self._port = port
        self._host = host

    def app(self) -> web.Application:
        app = web.Application()
        add_metrics_routes(app, self._registries)
        return app

    async def run(self, stop: asyncio.Event) -> None:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
            log.info("serving metrics on %s:%d", self._host, self._port)
            await stop.wait()
        finally:
            await runner.cleanup()
