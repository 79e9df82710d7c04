"""The kubelet's attach as clients meet it: the first attach to a one-client container gets
its whole output, also once it has finished and nobody reads its stdin any more; any other
attach gets what is written from then on, up to the container's last line."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from node_image.kubelet.attach import AttachSession
from node_image.kubelet.remote_command import ERROR, PROTOCOLS, STDERR, STDOUT


def entry(stream: str, text: str) -> str:
    return f"2026-12-03T07:00:00.000000000Z {stream} F {text}\n"


async def attach(log: Path, running: list[bool], stdin: Path | None = None, **kw) -> dict:
    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=PROTOCOLS)
        await ws.prepare(request)
        await AttachSession(ws, log, stdin, False, lambda: running[0], **kw).run()
        return ws

    app = web.Application()
    app.router.add_get("/attach", handler)
    received: dict[int, bytes] = {STDOUT: b"", STDERR: b"", ERROR: b""}
    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/attach", protocols=["v5.channel.k8s.io"])
        async for message in ws:
            received[message.data[0]] += message.data[1:]
    return received


async def test_the_first_attach_to_a_finished_one_client_container_gets_everything(tmp_path):
    log = tmp_path / "0.log"
    log.write_text(entry("stdout", "hello") + entry("stderr", "oops"))
    fifo = tmp_path / "stdin"
    os.mkfifo(fifo)  # nobody reads it: the container is gone
    for finishes_after in (0.0, 0.3):  # seen finished at once, or a moment later
        running = [finishes_after > 0]
        if running[0]:
            asyncio.get_running_loop().call_later(finishes_after, running.__setitem__, 0, False)
        received = await attach(log, running, stdin=fifo, from_start=True)
        assert (received[STDOUT], received[STDERR]) == (b"hello\n", b"oops\n")
        assert json.loads(received[ERROR])["status"] == "Success"


async def test_an_attach_follows_from_its_start_to_the_last_line(tmp_path):
    log = tmp_path / "0.log"
    log.write_text(entry("stdout", "before"))
    running = [True]

    async def container() -> None:
        await asyncio.sleep(0.2)
        with log.open("a") as f:
            f.write(entry("stdout", "after"))
        # It writes its last line and stops in the same moment the follower looks.
        with log.open("a") as f:
            f.write(entry("stdout", "last"))
        running[0] = False

    writer = asyncio.create_task(container())
    received = await attach(log, running)
    await writer
    assert received[STDOUT] == b"after\nlast\n"
