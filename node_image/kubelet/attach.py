"""`kubectl attach` (and `kubectl run -i`/`-it`) on the node: the container's own output as
it is written, and keystrokes into its stdin, over the remote command WebSocket.

The output comes from the CRI log file, passed on entry by entry, partial lines included (a
shell's prompt has no newline). An attach follows the log from its end, as upstream's does,
except the first attach to a container made for one (`stdin` and `stdinOnce`, as `kubectl
run -i` makes it): that one is the container's only reader, so it gets the output from the
start, the part written before the client could connect included, even when the container
has already finished. What the client types goes into the stdin FIFO containerd keeps for the
container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from node_image.kubelet.remote_command import (
    CLOSE,
    ERROR,
    STDERR,
    STDIN,
    STDOUT,
    exit_status,
    frame_payload,
)

FOLLOW_POLL = 0.05
#: How long a replay from the start waits before its first frame. client-go reads the
#: WebSocket before it has made its streams and drops frames that come meanwhile ("Unknown
#: stream id"); output already there when the client connects would otherwise come too soon.
CLIENT_SETUP_SECONDS = 0.25


def stdin_fifo(
    container_id: str, state: Path = Path("/run/containerd/io.containerd.grpc.v1.cri")
) -> Path | None:
    """containerd's stdin FIFO of a CRI container, if it has one."""
    matches = sorted((state / "containers" / container_id / "io").glob(f"*/{container_id}-stdin"))
    return matches[0] if matches else None


def log_entry(line: bytes) -> tuple[str, bytes] | None:
    """A CRI log entry as (stream, bytes to show): a full entry gets its newline back."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return parts[1].decode(errors="replace"), text + (b"\n" if parts[2] == b"F" else b"")


class AttachSession:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        log_path: Path,
        stdin: Path | None,
        tty: bool,
        still_running: Callable[[], bool],
        from_start: bool = False,
    ) -> None:
        self._from_start = from_start
        self._ws = ws
        self._log = log_path
        self._stdin = stdin
        self._tty = tty
        self._still_running = still_running
        self._sending = asyncio.Lock()

    async def _send(self, channel: int, data: bytes) -> None:
        async with self._sending:
            if not self._ws.closed:
                await self._ws.send_bytes(bytes([channel]) + data)

    async def run(self) -> None:
        inbound = asyncio.create_task(self._from_client())
        try:
            await self._follow()
        finally:
            inbound.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await inbound
        await self._send(ERROR, json.dumps(exit_status(0)).encode())
        await self._ws.close()

    async def _follow(self) -> None:
        if self._from_start:
            await asyncio.sleep(CLIENT_SETUP_SECONDS)
        with self._log.open("rb") as f:
            if not self._from_start:
                f.seek(0, os.SEEK_END)
            pending = b""
            while True:
                line = f.readline()
                if not line:
                    if self._still_running():
                        await asyncio.sleep(FOLLOW_POLL)
                        continue
                    # It stopped: its log is complete now, with what it wrote as we looked.
                    line = f.readline()
                    if not line:
                        return
                line, pending = pending + line, b""
                if not line.endswith(b"\n"):
                    pending = line
                    continue
                entry = log_entry(line)
                if entry is None:
                    continue
                stream, data = entry
                channel = STDERR if stream == "stderr" and not self._tty else STDOUT
                await self._send(channel, data)

    async def _from_client(self) -> None:
        fd: int | None = None
        try:
            if self._stdin is not None:
                # ENXIO: nobody reads the FIFO any more (the container has finished); the
                # session still shows its output.
                with contextlib.suppress(OSError):
                    fd = os.open(self._stdin, os.O_WRONLY | os.O_NONBLOCK)
            async for message in self._ws:
                data = frame_payload(message)
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == STDIN and fd is not None and payload:
                    await _write_all(fd, payload)
                elif channel == CLOSE and payload[:1] == bytes([STDIN]) and fd is not None:
                    os.close(fd)
                    fd = None
        finally:
            if fd is not None:
                os.close(fd)


async def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            await asyncio.sleep(0.01)
            continue
        data = data[written:]
