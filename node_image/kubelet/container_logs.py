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


class _Budget:
    """What limitBytes leaves to send."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit

    @property
    def spent(self) -> bool:
        return self._left is not None and self._left <= 0

    def take(self, chunk: bytes) -> bytes:
        if self._left is None:
            return chunk
        chunk = chunk[: max(0, self._left)]
        self._left -= len(chunk)
        return chunk


async def read_log(
    path: Path, options: LogOptions, still_running: Callable[[], bool]
) -> AsyncIterator[bytes]:
    """The log's lines as kubectl expects them, then (with follow) new ones as they come."""
    assembler = LineAssembler()
    budget = _Budget(options.limit_bytes)

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
            if chunk := budget.take(line.render(options.timestamps)):
                yield chunk
            if budget.spent:
                return
        if not options.follow:
            return
        while True:
            raw = f.readline()
            if not raw:
                # One last look once the container stopped: it may have written as it went.
                if still_running():
                    await asyncio.sleep(FOLLOW_POLL)
                    continue
                raw = f.readline()
                if not raw:
                    return
            raw, leftover = leftover + raw, b""
            if not raw.endswith(b"\n"):
                leftover = raw
                continue
            line = assembler.feed(raw)
            if line is None or not wanted(line):
                continue
            if chunk := budget.take(line.render(options.timestamps)):
                yield chunk
            if budget.spent:
                return
