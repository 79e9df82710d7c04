"""`kubectl exec` on the node: the Kubernetes remote command protocol over a WebSocket,
bridged to a process started in the container by runc.

Protocol (v4 and v5 of channel.k8s.io): every message starts with a channel byte; 0 stdin,
1 stdout, 2 stderr, 3 error (one Status JSON at the end), 4 resize ({"Width":w,"Height":h});
v5 adds 255, "close channel N" (the client's end of stdin). Binary and text frames carry the
same bytes (the Python client sends text frames when given str), as upstream's server reads
them.

The process is started with `runc exec` on the container containerd runs, in the
foreground: runc passes its own stdin on and copies the process's output to its own until
the process and everything that inherited its output have closed them, and only then exits
with the process's status. So the output arrives whole before the exit status, however
briefly the process ran. (containerd's client, `ctr task exec`, cancels its copy of the
output when the process exits and can drop what a short-lived process wrote; containerd's
CRI streaming server speaks only older protocol versions, which cannot end a command's
input.) With -t, runc gives the process a terminal of its own and copies it to and from
the pseudo-terminal made here, whose size the client sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
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
#: Where containerd's runc shim keeps the state of the containers of the CRI's namespace.
RUNC_ROOT = "/run/containerd/runc/k8s.io"


def runc_exec_argv(
    container_id: str, command: list[str], tty: bool, runc: str = "runc", root: str = RUNC_ROOT
) -> list[str]:
    """runc running a command in a container, in the foreground (see the module's text)."""
    return [runc, "--root", root, "exec", *(["--tty"] if tty else []), container_id, *command]


def frame_payload(message: Any) -> bytes | None:
    """The bytes of a client's binary or text frame; None for any other message."""
    if message.type == WSMsgType.BINARY:
        return bytes(message.data)
    if message.type == WSMsgType.TEXT:
        return str(message.data).encode()
    return None


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
    def __init__(self, request: ExecRequest, ws: web.WebSocketResponse, argv: list[str]) -> None:
        self._request = request
        self._ws = ws
        self._argv = argv  # what starts the process in the container (runc_exec_argv)
        self._terminal: int | None = None  # pty master, with -t
        self._started = 0.0
        self._send_lock = asyncio.Lock()

    async def _send(self, channel: int, data: bytes) -> None:
        async with self._send_lock:
            if not self._ws.closed:
                await self._ws.send_bytes(bytes([channel]) + data)

    async def run(self) -> None:
        self._started = asyncio.get_running_loop().time()
        try:
            process, readers = await self._start()
        except OSError as e:
            failure = failure_status(f"starting {self._argv[0]}: {e}")
            await self._send(ERROR, json.dumps(failure).encode())
            await self._ws.close()
            return
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

    async def _start(self) -> tuple[asyncio.subprocess.Process, list[Any]]:
        if self._request.tty:
            master, slave = pty.openpty()
            self._terminal = master
            # runc's own complaints go to its stderr, not into the user's terminal.
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=slave,
                stdout=slave,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
            os.close(slave)
            return process, [self._pump_terminal(master)]
        process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE if self._request.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        return process, [
            self._pump(process.stdout, STDOUT if self._request.stdout else None),
            self._pump(process.stderr, STDERR if self._request.stderr else None),
        ]

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
            data = frame_payload(message)
            if not data:
                continue
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
