"""The two ways kubectl carries SPDY to the API server: an HTTP/1.1 upgrade (`Upgrade:
SPDY/3.1`, kubectl before 1.30 and its fall-back since), or the binary messages of a
WebSocket (subprotocol `SPDY/3.1+portforward.k8s.io`, port-forward since 1.31).

For the upgrade, aiohttp hands over the connection the way its own WebSocket support takes
it: after the 101 answer, a parser of ours receives the raw bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from aiohttp import WSMsgType, web

from control_plane.apiserver.spdy.session import SpdySession, SpdyStream

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


def wants_spdy_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower().startswith("spdy/3")


def wants_tunnel(request: web.Request) -> bool:
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return TUNNEL_PROTOCOL in [p.strip() for p in offered.split(",")]


class _RawBytes:
    """What aiohttp feeds an upgraded connection's bytes to (its payload parser seam)."""

    def __init__(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._queue.put_nowait(None)


class Bridge(Protocol):
    """What runs on a session: it is told of each stream the client opens, and its run()
    lasts as long as the session is needed."""

    def on_stream(self, stream: SpdyStream) -> None: ...

    async def run(self, session: SpdySession) -> None: ...


async def _serve(session: SpdySession, bridge: Bridge, pump: Awaitable[None]) -> None:
    reader = asyncio.ensure_future(pump)
    job = asyncio.ensure_future(bridge.run(session))
    try:
        await asyncio.wait([reader, job], return_when=asyncio.FIRST_COMPLETED)
        if not job.done():  # the client left: give the bridge a moment to tidy up
            await asyncio.wait_for(asyncio.shield(job), timeout=5)
    except TimeoutError:
        pass
    finally:
        for task in (reader, job):
            task.cancel()
        await asyncio.gather(reader, job, return_exceptions=True)
        await session.goaway()


async def serve_upgrade(
    request: web.Request, protocol_version: str, bridge: Bridge
) -> web.StreamResponse:
    """Answer 101, then run the bridge on a SPDY session over the connection."""
    response = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": protocol_version,
        },
    )
    await response.prepare(request)
    transport = request.transport
    assert transport is not None
    request.protocol.keep_alive(False)
    incoming: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def send(data: bytes) -> None:
        if transport.is_closing():
            raise ConnectionError("the client went away")
        transport.write(data)

    session = SpdySession(send, bridge.on_stream)
    request.protocol.set_parser(_RawBytes(incoming))  # type: ignore[arg-type]

    async def pump() -> None:
        while (data := await incoming.get()) is not None:
            await session.feed(data)
        session.end()

    try:
        await _serve(session, bridge, pump())
    finally:
        transport.close()
    return response


async def serve_tunnel(request: web.Request, bridge: Bridge) -> web.StreamResponse:
    """A WebSocket whose binary messages carry the SPDY session."""
    ws = web.WebSocketResponse(protocols=[TUNNEL_PROTOCOL], max_msg_size=0)
    await ws.prepare(request)

    async def send(data: bytes) -> None:
        if ws.closed:
            raise ConnectionError("the client went away")
        await ws.send_bytes(data)

    session = SpdySession(send, bridge.on_stream)

    async def pump() -> None:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await session.feed(message.data)
        session.end()

    try:
        await _serve(session, bridge, pump())
    finally:
        await ws.close()
    return ws
