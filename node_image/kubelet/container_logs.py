"""Container logs as `kubectl logs` shows them, read from the runtime's CRI log files.

Each line of a CRI log file is ``<RFC 3339 time> <stdout|stderr> <F|P> <text>``: F ends a
line, P is part of a longer one. The options are the kubelet's: tailLines, sinceSeconds,
sinceTime, timestamps, limitBytes and follow (until the container stops).
"""

from __future__ import annotations

import asyncio
import datetime
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

FOLLOW_POLL = 0.1


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    timestamps: bool = False
    since: datetime.datetime | None = None
    limit_bytes: int | None = None


@dataclass(frozen=True)
class LogLine:
    time: str
    stream: str
    text: bytes  # a whole line, its newline included

    def render(self, timestamps: bool) -> bytes:
        return (self.time.encode() + b" " + self.text) if timestamps else self.text


def _parse_time(value: str) -> datetime.datetime | None:
    # Nanoseconds do not fit datetime: keep microseconds.
    try:
        head, _, rest = value.partition(".")
        fraction = rest.rstrip("Z")[:6]
        text = f"{head}.{fraction or '0'}+00:00"
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


class LineAssembler:
    """Joins partial (P) entries into whole lines."""

    def __init__(self) -> None:
        self._pending: dict[str, bytes] = {}

    def feed(self, raw: bytes) -> LogLine | None:
        parts = raw.rstrip(b"\n").split(b" ", 3)
        if len(parts) < 3:
            return None
        time, stream, tag = parts[0].decode(errors="replace"), parts[1].decode(), parts[2]
        text = parts[3] if len(parts) == 4 else b""
        if tag == b"P":
            self._pending[stream] = self._pending.get(stream, b"") + text
            return None
        whole = self._pending.pop(stream, b"") + text + b"\n"
        return LogLine(time, stream, whole)


async def read_log(
    path: Path, options: LogOptions, still_running: Callable[[], bool]
) -> AsyncIterator[bytes]:
    """The log's lines as kubectl expects them, then (with follow) new ones as they come."""
    assembler = LineAssembler()
    sent = 0

    def wanted(line: LogLine) -> bool:
        if options.since is None:
            return True
        moment = _parse_time(line.time)
        return moment is None or moment >= options.since

    with path.open("rb") as f:
        lines: list[LogLine] | deque[LogLine]
        lines = deque(maxlen=options.tail_lines) if options.tail_lines is not None else []
        leftover = b""
        for raw in f:
            if not raw.endswith(b"\n"):
                leftover = raw
                break
            line = assembler.feed(raw)
            if line is not None and wanted(line):
                lines.append(line)
        if options.tail_lines == 0:
            lines = []
        for line in lines:
            chunk = line.render(options.timestamps)
            if options.limit_bytes is not None:
                chunk = chunk[: max(0, options.limit_bytes - sent)]
            if chunk:
                sent += len(chunk)
                yield chunk
            if options.limit_bytes is not None and sent >= options.limit_bytes:
                return
        if not options.follow:
            return
        while True:
            raw = f.readline()
            if not raw:
                if not still_running():
                    # One last look: the container may have written as it stopped.
                    raw = f.readline()
                    if not raw:
                        return
                else:
                    await asyncio.sleep(FOLLOW_POLL)
                    continue
            raw = leftover + raw
            if not raw.endswith(b"\n"):
                leftover = raw
                continue
            leftover = b""
            line = assembler.feed(raw)
            if line is None or not wanted(line):
                continue
            chunk = line.render(options.timestamps)
            if options.limit_bytes is not None:
                chunk = chunk[: max(0, options.limit_bytes - sent)]
            if chunk:
                sent += len(chunk)
                yield chunk
            if options.limit_bytes is not None and sent >= options.limit_bytes:
                return
