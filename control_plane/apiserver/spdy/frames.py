"""SPDY/3.1 frames: reading them from a byte stream and writing them.

Every frame has an 8-byte header. A control frame starts with the high bit set, the
version (3) and its type; a data frame starts with its stream id. Both then carry flags
and a 24-bit length. Header blocks (in SYN_STREAM, SYN_REPLY and HEADERS) are
name/value lists compressed with one zlib stream per direction, primed with the SPDY/3
dictionary (taken from the spdy-py package).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from spdy.dictionary import zdict as SPDY3_DICTIONARY

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
#: RST_STREAM status codes.
PROTOCOL_ERROR, REFUSED_STREAM, CANCEL = 1, 3, 5
_HEADER = struct.Struct("!IBBH")  # first word, flags, length (high byte, low 16 bits)


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


@dataclass
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass
class ControlFrame:
    type: int
    flags: int
    payload: bytes
    #: Decoded for SYN_STREAM, SYN_REPLY and HEADERS.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)

    @property
    def stream_id(self) -> int:
        """The stream the frame is about (0 for SETTINGS, PING and GOAWAY's last good one)."""
        if len(self.payload) < 4 or self.type in (SETTINGS, PING):
            return 0
        return int(struct.unpack("!I", self.payload[:4])[0]) & 0x7FFFFFFF


Frame = DataFrame | ControlFrame


def _header_block(headers: dict[str, str]) -> bytes:
    parts = [struct.pack("!I", len(headers))]
    for name, value in headers.items():
        encoded_name, encoded_value = name.lower().encode(), value.encode()
        parts += [
            struct.pack("!I", len(encoded_name)),
            encoded_name,
            struct.pack("!I", len(encoded_value)),
            encoded_value,
        ]
    return b"".join(parts)


def _parse_header_block(block: bytes) -> dict[str, str]:
    try:
        (count,) = struct.unpack_from("!I", block, 0)
        offset, headers = 4, {}
        for _ in range(count):
            (length,) = struct.unpack_from("!I", block, offset)
            name = block[offset + 4 : offset + 4 + length].decode()
            offset += 4 + length
            (length,) = struct.unpack_from("!I", block, offset)
            # Several values of one name are separated by NUL; the first is enough here.
            value = block[offset + 4 : offset + 4 + length].split(b"\0")[0].decode()
            offset += 4 + length
            headers[name.lower()] = value
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed header block: {e}") from e
    return headers


class FrameReader:
    """Bytes in, frames out; keeps the partial frame and the header decompressor."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=SPDY3_DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, flags, length_high, length_low = _HEADER.unpack_from(self._buffer)
            length = (length_high << 16) | length_low
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            if first & 0x80000000:
                version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
                if version != VERSION:
                    raise ProtocolError(f"SPDY version {version} is not supported, only 3")
                frames.append(self._control(kind, flags, payload))
            else:
                frames.append(DataFrame(first & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, kind: int, flags: int, payload: bytes) -> ControlFrame:
        frame = ControlFrame(kind, flags, payload)
        block_at = {SYN_STREAM: 10, SYN_REPLY: 4, HEADERS: 4}.get(kind)
        if block_at is not None:
            try:
                block = self._inflate.decompress(payload[block_at:])
            except zlib.error as e:
                raise ProtocolError(f"cannot decompress the header block: {e}") from e
            frame.headers = _parse_header_block(block)
        return frame


class FrameWriter:
    """Frames out as bytes; keeps the header compressor."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zdict=SPDY3_DICTIONARY)

    @staticmethod
    def _control(kind: int, flags: int, payload: bytes) -> bytes:
        first = 0x80000000 | (VERSION << 16) | kind
        return _HEADER.pack(first, flags, len(payload) >> 16, len(payload) & 0xFFFF) + payload

    def _compressed(self, headers: dict[str, str]) -> bytes:
        block = self._deflate.compress(_header_block(headers))
        return block + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
        payload = struct.pack("!I", stream_id) + self._compressed(headers)
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, payload)

    def syn_stream(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
        """(Clients open streams; the tests play one.)"""
        payload = struct.pack("!IIH", stream_id, 0, 0) + self._compressed(headers)
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0, payload)

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
        return (
            _HEADER.pack(
                stream_id & 0x7FFFFFFF, FLAG_FIN if fin else 0, len(data) >> 16, len(data) & 0xFFFF
            )
            + data
        )

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack("!II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack("!I", ping_id))

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack("!II", last_stream_id, status))

    def window_update(self, stream_id: int, delta: int) -> bytes:
        return self._control(WINDOW_UPDATE, 0, struct.pack("!II", stream_id, delta))
