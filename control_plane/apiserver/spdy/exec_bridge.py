"""`kubectl exec` over SPDY (protocol v4 of the remote command streams), carried on to the
kubelet's WebSocket exec (v5 channels).

The client opens one stream per channel, each named by its `streamtype` header: error
(always), stdin, stdout, stderr and resize as the request asked. Once all are open the
command runs; stdin's FIN becomes v5's close of channel 0, each terminal size (JSON, one
after another on the resize stream) a resize message, and the Status the kubelet ends with
is written to the error stream before every stream is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from control_plane.apiserver.spdy.session import SpdySession, SpdyStream

log = logging.getLogger("kube-apiserver")

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
#: What the SPDY side speaks; the kubelet side is always v5.
PROTOCOL_VERSIONS = ("v4.channel.k8s.io",)
STREAMS_TIMEOUT = 30.0

Connect = Any  # () -> awaitable ClientWebSocketResponse


def expected_streams(query: Any) -> set[str]:
    def flag(name: str) -> bool:
        return str(query.get(name, "")).lower() in ("1", "true")

    wanted = {"error"}
    if flag("stdin"):
        wanted.add("stdin")
    if flag("stdout"):
        wanted.add("stdout")
    if flag("tty"):
        wanted.add("resize")
    elif flag("stderr"):
        wanted.add("stderr")
    return wanted


def terminal_sizes(buffer: str) -> tuple[list[Any], str]:
    """The whole JSON objects at the front of buffer, and what is left of it."""
    decoder = json.JSONDecoder()
    sizes = []
    buffer = buffer.lstrip()
    while buffer:
        try:
            size, end = decoder.raw_decode(buffer)
        except ValueError:
            break
        sizes.append(size)
        buffer = buffer[end:].lstrip()
    return sizes, buffer


class ExecBridge:
    def __init__(self, query: Any, connect: Connect) -> None:
        self._expected = expected_streams(query)
        self._connect = connect
        self._streams: dict[str, SpdyStream] = {}
        self._ready = asyncio.Event()

    def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.headers.get("streamtype", "")
        self._streams[kind] = stream
        if self._expected <= set(self._streams):
            self._ready.set()

    async def run(self, session: SpdySession) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=STREAMS_TIMEOUT)
        except TimeoutError:
            log.info("exec over SPDY: the client opened only %s", sorted(self._streams))
            return
        error = self._streams["error"]
        try:
            kubelet = await self._connect()
        except Exception as e:
            await error.write(
                json.dumps(
                    {
                        "metadata": {},
                        "status": "Failure",
                        "message": str(e),
                        "reason": "InternalError",
                    }
                ).encode()
            )
            await self._close_all()
            return
        pumps = [asyncio.create_task(self._to_kubelet_stdin(kubelet))]
        if "resize" in self._streams:
            pumps.append(asyncio.create_task(self._resizes(kubelet)))
        try:
            await self._from_kubelet(kubelet)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            await kubelet.close()
            await self._close_all()

    async def _to_kubelet_stdin(self, kubelet: Any) -> None:
        stdin = self._streams.get("stdin")
        if stdin is None:
            return
        while (data := await stdin.read()) is not None:
            await kubelet.send_bytes(bytes([STDIN]) + data)
        await kubelet.send_bytes(bytes([CLOSE, STDIN]))

    async def _resizes(self, kubelet: Any) -> None:
        stream, buffer = self._streams["resize"], ""
        while (data := await stream.read()) is not None:
            sizes, buffer = terminal_sizes(buffer + data.decode(errors="replace"))
            for size in sizes:
                await kubelet.send_bytes(bytes([RESIZE]) + json.dumps(size).encode())

    async def _from_kubelet(self, kubelet: Any) -> None:
        targets = {STDOUT: "stdout", STDERR: "stderr", ERROR: "error"}
        async for message in kubelet:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            name = targets.get(message.data[0])
            stream = self._streams.get(name) if name else None
            if stream is not None:
                await stream.write(message.data[1:])

    async def _close_all(self) -> None:
        for stream in self._streams.values():
            await stream.close()
