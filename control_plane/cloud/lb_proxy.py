"""The load balancer a Service of type LoadBalancer gets: it listens on the Service's ports at
its own address on the cluster network and relays each TCP connection to the Service's node
port on one of the backend nodes, as a cloud's network load balancer does.

It holds under node loss: a node that refuses or does not answer within a second is skipped
and left alone for a few seconds, and the next node is tried. The cloud controller rewrites
the configuration file when the nodes or ports change; it is re-read within a second.

``python3 -m control_plane.cloud.lb_proxy /etc/ku7s/lb.json`` with
``{"ports": [{"port": 80, "nodePort": 31000}], "backends": ["172.18.0.3", ...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("load-balancer")

CONNECT_TIMEOUT = 1.0
DOWN_SECONDS = 5.0


class Backends:
    """Round robin over the nodes, skipping the ones that failed recently."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self._down: dict[str, float] = {}
        self._turn = itertools.count()

    def candidates(self) -> list[str]:
        if not self.addresses:
            return []
        start = next(self._turn) % len(self.addresses)
        ordered = self.addresses[start:] + self.addresses[:start]
        now = time.monotonic()
        up = [a for a in ordered if self._down.get(a, 0) <= now]
        return up + [a for a in ordered if a not in up]  # the down ones as a last resort

    def failed(self, address: str) -> None:
        self._down[address] = time.monotonic() + DOWN_SECONDS


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class Listener:
    def __init__(self, port: int, node_port: int, backends: Backends) -> None:
        self.port = port
        self.node_port = node_port
        self._backends = backends
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "0.0.0.0", self.port)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        for address in self._backends.candidates():
            try:
                node_r, node_w = await asyncio.wait_for(
                    asyncio.open_connection(address, self.node_port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                self._backends.failed(address)
                continue
            await asyncio.gather(_pipe(client_r, node_w), _pipe(node_r, client_w))
            node_w.close()
            break
        client_w.close()


class LoadBalancerProxy:
    def __init__(self, config_path: Path) -> None:
        self._path = config_path
        self._backends = Backends()
        self._listeners: dict[tuple[int, int], Listener] = {}
        self._seen: tuple[float, int] | None = None

    async def reload(self) -> None:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return
        if self._seen == (stat.st_mtime, stat.st_size):
            return
        self._seen = (stat.st_mtime, stat.st_size)
        config: dict[str, Any] = json.loads(self._path.read_text())
        self._backends.addresses = list(config.get("backends") or [])
        wanted = {(int(p["port"]), int(p["nodePort"])) for p in config.get("ports") or []}
        for key in set(self._listeners) - wanted:
            self._listeners.pop(key).close()
        for port, node_port in wanted - set(self._listeners):
            listener = Listener(port, node_port, self._backends)
            await listener.start()
            self._listeners[(port, node_port)] = listener
        log.info("ports %s to nodes %s", sorted(wanted), self._backends.addresses)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.reload()
            except (OSError, ValueError, KeyError) as e:
                log.warning("cannot load %s: %s", self._path, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        for listener in self._listeners.values():
            listener.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await LoadBalancerProxy(Path(sys.argv[1])).run(stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
