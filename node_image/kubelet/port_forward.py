"""`kubectl port-forward` on the node: a WebSocket whose channels carry TCP connections to
ports of the pod, opened on the pod's loopback inside its network namespace (as
containerd's CRI port-forward does), so a server bound to 127.0.0.1 in the pod is reached
too.

Channels (v4 and v5 of channel.k8s.io): for the i-th requested port, 2i carries data and
2i+1 errors, and the first message on each starts with the port as two little-endian
bytes. v5's close of a data channel shuts the write side of that port's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import struct
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from node_image.kubelet.remote_command import frame_payload

CLOSE = 255
#: How much of a pod's answer one message carries at most. Big reads mean few WebSocket
#: frames (and SPDY frames at the API server) per megabyte: 64 KiB reads held a transfer
#: to a tenth of what the pod network carries.
CHUNK = 1 << 20
_CLONE_NEWNET = 0x40000000

Opener = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _connect_in(netns: str, port: int, timeout: float) -> socket.socket:
    """Connect to 127.0.0.1:port in another network namespace, from a thread of its own
    (setns changes only the calling thread, and this one ends right after)."""
    result: list[socket.socket | BaseException] = []

    def work() -> None:
        try:
            with open(netns, "rb") as target:
                _setns(target.fileno())
            result.append(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        except BaseException as e:
            result.append(e)

    thread = threading.Thread(target=work, name=f"port-forward-{port}", daemon=True)
    thread.start()
    thread.join()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    outcome.settimeout(None)
    return outcome


def opener_for(pid: int, timeout: float = 5.0) -> Opener:
    """Connections to the pod whose sandbox process is pid."""

    async def open_port(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, _connect_in, f"/proc/{pid}/ns/net", port, timeout)
        return await asyncio.open_connection(sock=sock, limit=CHUNK)

    return open_port


class PortForwardSession:
    def __init__(self, ws: web.WebSocketResponse, open_port: Opener, ports: list[int]) -> None:
        self._ws = ws
        self._open = open_port
        self._ports = ports
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._sending = asyncio.Lock()

    async def _send(self, channel: int, data: bytes) -> None:
        async with self._sending:
            if not self._ws.closed:
                await self._ws.send_bytes(bytes([channel]) + data)

    async def run(self) -> None:
        readers: list[asyncio.Task[None]] = []
        for index, port in enumerate(self._ports):
            prefix = struct.pack("<H", port)
            await self._send(2 * index, prefix)
            await self._send(2 * index + 1, prefix)
            try:
                reader, writer = await self._open(port)
            except OSError as e:
                await self._send(
                    2 * index + 1,
                    f"error forwarding port {port} to pod: {e.strerror or e}".encode(),
                )
                continue
            self._writers[index] = writer
            readers.append(asyncio.create_task(self._from_pod(index, reader)))
        inbound = asyncio.create_task(self._from_client())
        pod_sides = asyncio.create_task(self._all(readers))
        try:
            if readers:
                await asyncio.wait([inbound, pod_sides], return_when=asyncio.FIRST_COMPLETED)
        finally:
            inbound.cancel()
            pod_sides.cancel()
            await asyncio.gather(inbound, pod_sides, return_exceptions=True)
            for writer in self._writers.values():
                writer.close()
            await self._ws.close()

    @staticmethod
    async def _all(tasks: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*tasks)

    async def _from_pod(self, index: int, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(CHUNK):
            await self._send(2 * index, chunk)

    async def _from_client(self) -> None:
        async for message in self._ws:
            data = frame_payload(message)
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == CLOSE and payload:
                writer = self._writers.get(payload[0] // 2)
                if writer is not None and writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                continue
            writer = self._writers.get(channel // 2)
            if channel % 2 == 0 and writer is not None and payload:
                writer.write(payload)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
