"""A server-side SPDY/3.1 session: the client opens streams, the server answers each at once
and then reads and writes them.

The session runs over any byte transport: a raw HTTP upgrade or a WebSocket carrying SPDY
in its binary messages. Pings are answered, flow control is honoured from our side by
granting back what was read, and a stream ends when each side has sent FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from control_plane.apiserver.spdy.frames import (
    CANCEL,
    GOAWAY,
    PING,
    RST_STREAM,
    SYN_STREAM,
    ControlFrame,
    DataFrame,
    Frame,
    FrameReader,
    FrameWriter,
)

log = logging.getLogger("spdy")

Send = Callable[[bytes], Awaitable[None]]


class SpdyStream:
    def __init__(self, session: SpdySession, stream_id: int, headers: dict[str, str]) -> None:
        self.id = stream_id
        self.headers = headers
        self._session = session
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False

    def _deliver(self, data: bytes, fin: bool) -> None:
        if data:
            self._incoming.put_nowait(data)
        if fin and not self.remote_closed:
            self.remote_closed = True
            self._incoming.put_nowait(None)

    async def read(self) -> bytes | None:
        """The next bytes the client sent; None once it closed its side."""
        data = await self._incoming.get()
        if data is not None:
            await self._session.grant(self.id, len(data))
        return data

    async def write(self, data: bytes) -> None:
        if data and not self.local_closed:
            await self._session.send(self._session.writer.data(self.id, data))

    async def close(self) -> None:
        """Our side is done (FIN)."""
        if not self.local_closed:
            self.local_closed = True
            await self._session.send(self._session.writer.data(self.id, b"", fin=True))

    def reset(self) -> None:
        self.remote_closed = True
        self._incoming.put_nowait(None)


class SpdySession:
    def __init__(self, send: Send, on_stream: Callable[[SpdyStream], None]) -> None:
        self._send = send
        self._on_stream = on_stream
        self._reader = FrameReader()
        self.writer = FrameWriter()
        self.streams: dict[int, SpdyStream] = {}
        self._sending = asyncio.Lock()
        self._last_stream = 0
        self.closed = asyncio.Event()

    async def send(self, data: bytes) -> None:
        async with self._sending:
            await self._send(data)

    async def grant(self, stream_id: int, size: int) -> None:
        """Give the client back the window its data used, for the stream and the session."""
        with contextlib.suppress(ConnectionError):
            await self.send(
                self.writer.window_update(stream_id, size) + self.writer.window_update(0, size)
            )

    async def feed(self, data: bytes) -> None:
        """Bytes from the client."""
        for frame in self._reader.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                await self.send(self.writer.rst_stream(frame.stream_id, CANCEL))
                return
            stream._deliver(frame.data, frame.fin)
            return
        assert isinstance(frame, ControlFrame)
        if frame.type == SYN_STREAM:
            stream = SpdyStream(self, frame.stream_id, frame.headers)
            self.streams[frame.stream_id] = stream
            self._last_stream = max(self._last_stream, frame.stream_id)
            await self.send(self.writer.syn_reply(frame.stream_id, {}))
            if frame.fin:
                stream._deliver(b"", True)
            self._on_stream(stream)
        elif frame.type == PING:
            await self.send(self.writer.ping(int.from_bytes(frame.payload[:4], "big")))
        elif frame.type == RST_STREAM:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream.reset()
        elif frame.type == GOAWAY:
            self.end()
        # SETTINGS, WINDOW_UPDATE and HEADERS need nothing from us.

    def end(self) -> None:
        """The client is gone: wake every reader."""
        for stream in self.streams.values():
            stream.reset()
        self.closed.set()

    async def goaway(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(self.writer.goaway(self._last_stream))
