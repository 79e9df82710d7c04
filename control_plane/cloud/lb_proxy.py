"""The load balancer a Service of type LoadBalancer gets: it listens on the Service's ports at
its own address on the cluster network and relays each connection to the Service's node port
on one of the backend nodes, as a cloud's network load balancer does.

UDP ports are relayed too, each client's datagrams to one node while the flow lasts.

It holds under node loss: a node that refuses or does not answer within a second is skipped
and left alone for a few seconds, and the next node is tried. The cloud controller rewrites
the configuration file when the nodes or ports change; it is re-read within a second.

``python3 -m control_plane.cloud.lb_proxy /etc/ku7s/lb.json`` with
``{"ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}], "backends": [...]}``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from ku7s.aio import sleep_unless, stop_on_signals

log = logging.getLogger("load-balancer")

CONNECT_TIMEOUT = 1.0
DOWN_SECONDS = 5.0
UDP_IDLE_SECONDS = 60.0


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
    """Relays TCP connections on one port."""

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


class _Upstream(asyncio.DatagramProtocol):
    """One client's flow to a node: replies go back to the client from the listening port.
    Datagrams that come before the socket is ready wait for it."""

    def __init__(self, reply: Callable[[bytes], None]) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None
        self.last_used = time.monotonic()
        self._waiting: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self._waiting:
            self.transport.sendto(data)
        self._waiting.clear()

    def send(self, data: bytes) -> None:
        self.last_used = time.monotonic()
        if self.transport is None:
            self._waiting.append(data)
        else:
            self.transport.sendto(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.last_used = time.monotonic()
        self.reply(data)


class UDPListener(asyncio.DatagramProtocol):
    """Relays UDP on one port: each client address keeps to one node until it is idle for
    UDP_IDLE_SECONDS, as a cloud load balancer's flow table does."""

    def __init__(self, port: int, node_port: int, backends: Backends) -> None:
        self.port = port
        self.node_port = node_port
        self._backends = backends
        self._transport: asyncio.DatagramTransport | None = None
        self._flows: dict[tuple[str, int], _Upstream] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("0.0.0.0", self.port))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def close(self) -> None:
        for flow in self._flows.values():
            flow.close()
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._forward(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, data: bytes, client: tuple[str, int]) -> None:
        now = time.monotonic()
        for key in [k for k, f in self._flows.items() if now - f.last_used > UDP_IDLE_SECONDS]:
            self._flows.pop(key).close()
        existing = self._flows.get(client)
        if existing is not None:
            existing.send(data)
            return
        candidates = self._backends.candidates()
        if not candidates or self._transport is None:
            return
        listening = self._transport
        flow = _Upstream(lambda reply: listening.sendto(reply, client))
        self._flows[client] = flow
        flow.send(data)
        await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: flow, remote_addr=(candidates[0], self.node_port)
        )


class LoadBalancerProxy:
    def __init__(self, config_path: Path) -> None:
        self._path = config_path
        self._backends = Backends()
        self._listeners: dict[tuple[int, int, str], Listener | UDPListener] = {}
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
        wanted = {
            (int(p["port"]), int(p["nodePort"]), p.get("protocol", "TCP"))
            for p in config.get("ports") or []
        }
        for key in set(self._listeners) - wanted:
            self._listeners.pop(key).close()
        for port, node_port, protocol in wanted - set(self._listeners):
            kind = UDPListener if protocol == "UDP" else Listener
            listener = kind(port, node_port, self._backends)
            await listener.start()
            self._listeners[(port, node_port, protocol)] = listener
        log.info("ports %s to nodes %s", sorted(wanted), self._backends.addresses)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.reload()
            except (OSError, ValueError, KeyError) as e:
                log.warning("cannot load %s: %s", self._path, e)
            await sleep_unless(stop, 1.0)
        for listener in self._listeners.values():
            listener.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        await LoadBalancerProxy(Path(sys.argv[1])).run(stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
