"""`kubectl exec` on the node: the Kubernetes remote command protocol over a WebSocket,
bridged to a process started in the container by containerd.

Protocol (v4 and v5 of channel.k8s.io, binary): every message starts with a channel byte;
0 stdin, 1 stdout, 2 stderr, 3 error (one Status JSON at the end), 4 resize
({"Width":w,"Height":h}); v5 adds 255, "close channel N" (the client's end of stdin).

The process is started with containerd's own client (`ctr task exec`) on pipes, or on a
pseudo-terminal for -t; containerd's CRI streaming server speaks only older protocol
versions, which cannot tell a command that its input has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import secrets
import signal
import struct
import termios
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
#: A terminal resize that came this soon after the start is passed on once more then.
RESIZE_SETTLE = 0.3
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


@dataclass(frozen=True)
class ExecRequest:
    container_id: str
    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, container_id: str, query: Any) -> ExecRequest:
        def flag(name: str) -> bool:
            return str(query.get(name, "")).lower() in ("1", "true", "yes")

        return cls(
            container_id=container_id,
            command=list(query.getall("command", [])),
            stdin=flag("stdin"),
            stdout=flag("stdout"),
            stderr=flag("stderr") and not flag("tty"),
            tty=flag("tty"),
        )


def exit_status(code: int) -> dict[str, Any]:
    """The Status the error channel carries when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


class ExecSession:
    def __init__(
        self,
        request: ExecRequest,
        ws: web.WebSocketResponse,
        *,
        ctr: str = "ctr",
        namespace: str = "k8s.io",
    ) -> None:
        self._request = request
        self._ws = ws
        self._ctr = ctr
        self._namespace = namespace
        self._terminal: int | None = None  # pty master, with -t
        self._started = 0.0
        self._send_lock = asyncio.Lock()

    async def _send(self, channel: int, data: bytes) -> None:
        async with self._send_lock:
            if not self._ws.closed:
                await self._ws.send_bytes(bytes([channel]) + data)

    async def run(self) -> None:
        request = self._request
        argv = [
            self._ctr,
            "-n",
            self._namespace,
            "task",
            "exec",
            "--exec-id",
            f"exec-{secrets.token_hex(6)}",
        ]
        if request.tty:
            argv.append("--tty")
        argv += [request.container_id, *request.command]
        self._started = asyncio.get_running_loop().time()
        if request.tty:
            master, slave = pty.openpty()
            self._terminal = master
            # ctr's own complaints go to its stderr, not into the user's terminal.
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=slave,
                stdout=slave,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
            os.close(slave)
            readers = [self._pump_terminal(master)]
        else:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if request.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            assert process.stdout is not None and process.stderr is not None
            readers = [
                self._pump(process.stdout, STDOUT if request.stdout else None),
                self._pump(process.stderr, STDERR if request.stderr else None),
            ]
        inbound = asyncio.create_task(self._inbound(process))
        try:
            await asyncio.gather(*readers)
            code = await process.wait()
        finally:
            inbound.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await inbound
            if self._terminal is not None:
                os.close(self._terminal)
            if process.returncode is None:
                process.kill()
                await process.wait()
        await self._send(ERROR, json.dumps(exit_status(code)).encode())
        await self._ws.close()

    async def _pump(self, stream: asyncio.StreamReader, channel: int | None) -> None:
        while chunk := await stream.read(32 * 1024):
            if channel is not None:
                await self._send(channel, chunk)

    async def _pump_terminal(self, master: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                chunk = await loop.run_in_executor(None, os.read, master, 32 * 1024)
            except OSError:  # EIO: the other side of the terminal closed
                return
            if not chunk:
                return
            await self._send(STDOUT, chunk)

    async def _inbound(self, process: asyncio.subprocess.Process) -> None:
        """Client to process: stdin bytes, terminal resizes, the end of stdin."""
        async for message in self._ws:
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            data: bytes = message.data
            channel, payload = data[0], data[1:]
            if channel == STDIN and payload:
                await self._write_stdin(process, payload)
            elif channel == RESIZE and self._terminal is not None:
                self._resize(process, payload)
            elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                self._close_stdin(process)
        self._close_stdin(process)

    async def _write_stdin(self, process: asyncio.subprocess.Process, data: bytes) -> None:
        if self._terminal is not None:
            os.write(self._terminal, data)
        elif process.stdin is not None and not process.stdin.is_closing():
            process.stdin.write(data)
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()

    def _close_stdin(self, process: asyncio.subprocess.Process) -> None:
        if self._terminal is None and process.stdin is not None:
            process.stdin.close()

    def _resize(self, process: asyncio.subprocess.Process, payload: bytes) -> None:
        try:
            size = json.loads(payload)
            width, height = int(size.get("Width", 0)), int(size.get("Height", 0))
        except (ValueError, AttributeError):
            return
        assert self._terminal is not None
        fcntl.ioctl(self._terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        # ctr passes SIGWINCH on to the process; one that comes before the process started
        # is lost (clients send their size at once), so early ones are repeated a moment on.
        loop = asyncio.get_running_loop()

        def tell() -> None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGWINCH)

        tell()
        if loop.time() < self._started + RESIZE_SETTLE:
            loop.call_at(self._started + RESIZE_SETTLE, tell)
