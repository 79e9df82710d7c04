"""SPDY/3.1 framing and the server session, without a network."""

from __future__ import annotations

import asyncio

import pytest

from control_plane.apiserver.spdy.exec_bridge import expected_streams, terminal_sizes
from control_plane.apiserver.spdy.frames import (
    PING,
    SYN_REPLY,
    SYN_STREAM,
    WINDOW_UPDATE,
    ControlFrame,
    DataFrame,
    FrameReader,
    FrameWriter,
    ProtocolError,
)
from control_plane.apiserver.spdy.session import SpdySession


def test_frames_round_trip_with_compressed_headers_split_anywhere():
    writer, reader = FrameWriter(), FrameReader()
    wire = (
        writer.syn_stream(1, {"streamType": "error"})
        + writer.syn_stream(3, {"streamtype": "data", "port": "80", "requestid": "0"})
        + writer.data(3, b"hello", fin=True)
        + writer.ping(7)
    )
    frames = []
    for i in range(0, len(wire), 5):  # byte by byte would do too: frames wait for all of them
        frames += reader.feed(wire[i : i + 5])
    first, second, data, ping = frames
    assert isinstance(first, ControlFrame) and first.type == SYN_STREAM
    assert first.stream_id == 1 and first.headers == {"streamtype": "error"}
    assert second.headers == {"streamtype": "data", "port": "80", "requestid": "0"}
    assert isinstance(data, DataFrame) and (data.stream_id, data.data, data.fin) == (
        3,
        b"hello",
        True,
    )
    assert isinstance(ping, ControlFrame) and ping.type == PING


def test_other_versions_are_refused():
    frame = bytearray(FrameWriter().ping(1))
    frame[1] = 2  # version 2
    with pytest.raises(ProtocolError, match="version 2"):
        FrameReader().feed(bytes(frame))


async def test_session_answers_streams_pings_and_delivers_data():
    client_writer, from_server = FrameWriter(), FrameReader()
    sent: list = []

    async def send(data: bytes) -> None:
        sent.extend(from_server.feed(data))

    opened = []
    session = SpdySession(send, opened.append)
    await session.feed(client_writer.syn_stream(1, {"streamtype": "stdin"}))
    await session.feed(client_writer.data(1, b"abc") + client_writer.data(1, b"", fin=True))
    await session.feed(client_writer.ping(9))
    [stream] = opened
    assert await stream.read() == b"abc"
    assert await asyncio.wait_for(stream.read(), 1) is None
    await stream.write(b"out")
    await stream.close()
    kinds = [f.type if isinstance(f, ControlFrame) else "data" for f in sent]
    assert kinds[0] == SYN_REPLY and PING in kinds and WINDOW_UPDATE in kinds
    data = [f for f in sent if isinstance(f, DataFrame)]
    assert [(d.data, d.fin) for d in data] == [(b"out", False), (b"", True)]


def test_exec_streams_and_terminal_sizes():
    assert expected_streams({"stdin": "true", "stdout": "true", "stderr": "true"}) == {
        "error",
        "stdin",
        "stdout",
        "stderr",
    }
    assert expected_streams({"stdout": "true", "tty": "true", "stderr": "true"}) == {
        "error",
        "stdout",
        "resize",
    }
    sizes, rest = terminal_sizes('{"Width":80,"Height":24}\n{"Width":100,')
    assert sizes == [{"Width": 80, "Height": 24}] and rest == '{"Width":100,'
