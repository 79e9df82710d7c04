"""The kubelet's exec relay as a client meets it: every byte a process writes arrives before
its exit status, however briefly it ran; input written line by line reaches it at once; text
frames count as binary ones. The process runs here, started by the command the session is
given (the kubelet gives `runc exec`)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from node_image.kubelet.remote_command import (
    CLOSE,
    ERROR,
    PROTOCOLS,
    STDERR,
    STDIN,
    STDOUT,
    ExecRequest,
    ExecSession,
    runc_exec_argv,
)


def app_running(command: list[str], stdin: bool = False) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
        await ws.prepare(request)
        exec_request = ExecRequest("c1", command, stdin, True, True, False)
        await ExecSession(exec_request, ws, command).run()
        return ws

    app = web.Application()
    app.router.add_get("/exec", handler)
    return app


async def session(
    command: list[str], lines: list[str] | None = None, as_text: bool = False
) -> tuple[dict[int, bytes], list[int], list[bytes]]:
    """Run the command; with lines, write each one and wait for a line back before the
    next. Returns the bytes per channel, the order of the channels' frames, and the
    replies to the lines."""
    received: dict[int, bytes] = {STDOUT: b"", STDERR: b"", ERROR: b""}
    order: list[int] = []
    replies: list[bytes] = []
    async with TestClient(TestServer(app_running(command, stdin=lines is not None))) as client:
        ws = await client.ws_connect("/exec", protocols=["v5.channel.k8s.io"], max_msg_size=0)
        for line in lines or []:
            if as_text:
                await ws.send_str(chr(STDIN) + line)
            else:
                await ws.send_bytes(bytes([STDIN]) + line.encode())
            reply = b""
            while not reply.endswith(b"\n"):
                message = await asyncio.wait_for(ws.receive(), 5)
                assert message.type == aiohttp.WSMsgType.BINARY, message
                channel, data = message.data[0], message.data[1:]
                order.append(channel)
                received[channel] += data
                reply += data
            replies.append(reply)
        if lines is not None:
            await ws.send_bytes(bytes([CLOSE, STDIN]))  # v5: the end of the input
        async for message in ws:
            channel, data = message.data[0], message.data[1:]
            order.append(channel)
            received[channel] += data
    return received, order, replies


def status(received: dict[int, bytes]) -> dict:
    return json.loads(received[ERROR])


async def test_a_process_that_exits_at_once_loses_nothing():
    for _ in range(20):
        received, order, _ = await session(["sh", "-c", "echo from python; exit 5"])
        assert received[STDOUT] == b"from python\n"
        assert order[-1] == ERROR and order.count(ERROR) == 1
        assert status(received)["details"]["causes"][0]["message"] == "5"


async def test_ten_megabytes_arrive_whole():
    size = 10 * 2**20
    received, order, _ = await session(["head", "-c", str(size), "/dev/urandom"])
    assert len(received[STDOUT]) == size
    assert order[-1] == ERROR and status(received)["status"] == "Success"


async def test_interleaved_stdout_and_stderr_keep_their_order():
    script = "for i in $(seq 1 300); do echo out $i; echo err $i >&2; done"
    received, _, _ = await session(["sh", "-c", script])
    assert received[STDOUT].decode().splitlines() == [f"out {i}" for i in range(1, 301)]
    assert received[STDERR].decode().splitlines() == [f"err {i}" for i in range(1, 301)]


async def test_input_line_by_line_gets_replies_while_the_session_stays_open():
    for as_text in (False, True):
        lines = [f"echo test string {i}\n" for i in range(5)]
        received, _, replies = await session(["sh"], lines, as_text=as_text)
        assert replies == [f"test string {i}\n".encode() for i in range(5)]
        assert status(received)["status"] == "Success"  # its input ended, so did sh


async def test_exit_ends_the_session_with_success():
    async with TestClient(TestServer(app_running(["sh"], stdin=True))) as client:
        ws = await client.ws_connect("/exec", protocols=["v5.channel.k8s.io"])
        await ws.send_str(chr(STDIN) + "echo bye\n")
        await ws.send_str(chr(STDIN) + "exit\n")
        frames = [m.data async for m in ws]
    assert frames[0] == bytes([STDOUT]) + b"bye\n"
    assert json.loads(frames[-1][1:]) == {"metadata": {}, "status": "Success"}


def test_the_kubelet_runs_the_command_with_runc_in_the_foreground():
    assert runc_exec_argv("abc", ["sh", "-c", "true"], tty=False) == [
        "runc", "--root", "/run/containerd/runc/k8s.io", "exec", "abc", "sh", "-c", "true",
    ]  # fmt: skip
    assert "--tty" in runc_exec_argv("abc", ["sh"], tty=True)
