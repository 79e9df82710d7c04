"""`kubectl port-forward` over SPDY, carried on to the kubelet's WebSocket port-forward.

kubectl opens two streams for each local connection it accepts, an error and a data
stream, with the same `requestid` and the pod `port` in their headers. Each pair becomes a
WebSocket of its own to the kubelet for that one port (channel 0 data, 1 errors, each
starting with the port number as two little-endian bytes). The client's FIN on the data
stream becomes v5's close of channel 0: the pod connection's write side shuts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from control_plane.apiserver.spdy.session import SpdySession, SpdyStream

log = logging.getLogger("kube-apiserver")

PROTOCOL_VERSION = "portforward.k8s.io"
DATA, ERROR, CLOSE = 0, 1, 255

Connect = Callable[[int], Awaitable[Any]]  # port -> kubelet WebSocket


class _Pair:
    def __init__(self) -> None:
        self.error: SpdyStream | None = None
        self.data: SpdyStream | None = None
        self.port = 0


class PortForwardBridge:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._pairs: dict[str, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: SpdyStream) -> None:
        request = stream.headers.get("requestid", "")
        pair = self._pairs.setdefault(request, _Pair())
        kind = stream.headers.get("streamtype", "")
        if kind == "error":
            pair.error = stream
        elif kind == "data":
            pair.data = stream
        try:
            pair.port = int(stream.headers.get("port", "0"))
        except ValueError:
            pair.port = 0
        if pair.error is not None and pair.data is not None:
            del self._pairs[request]
            task = asyncio.get_running_loop().create_task(self._forward(pair))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def run(self, session: SpdySession) -> None:
        """Connections come and go for as long as the client keeps the session."""
        await session.closed.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forward(self, pair: _Pair) -> None:
        assert pair.error is not None and pair.data is not None
        error, data = pair.error, pair.data
        try:
            kubelet = await self._connect(pair.port)
        except Exception as e:
            await error.write(f"error forwarding port {pair.port}: {e}".encode())
            await error.close()
            await data.close()
            return
        upload = asyncio.create_task(self._upload(data, kubelet))
        try:
            await self._download(kubelet, data, error)
        finally:
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upload
            await kubelet.close()
            await data.close()
            await error.close()

    @staticmethod
    async def _upload(data: SpdyStream, kubelet: Any) -> None:
        while (chunk := await data.read()) is not None:
            await kubelet.send_bytes(bytes([DATA]) + chunk)
        await kubelet.send_bytes(bytes([CLOSE, DATA]))

    @staticmethod
    async def _download(kubelet: Any, data: SpdyStream, error: SpdyStream) -> None:
        prefixed = {DATA: True, ERROR: True}  # each channel's first message carries the port
        async for message in kubelet:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if prefixed.get(channel):
                prefixed[channel] = False
                payload = payload[2:]
            if not payload:
                continue
            if channel == DATA:
                await data.write(payload)
            elif channel == ERROR:
                await error.write(payload)
