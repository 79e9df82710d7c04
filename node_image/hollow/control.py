"""The hollow process' control socket, through which node faults reach its nodes: one line
per request, ``<state> <node>...`` (running, paused, partitioned, stopped),
``latency <seconds> <jitter> <to|from|both> <node>...`` (0 seconds: none) or ``list``; one
line of JSON back. ``python -m node_image.hollow.control paused NODE...`` is its client, run with
``docker exec`` in the hollow container."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from node_image.hollow.node import HollowNode, State

SOCKET = Path("/run/ku7s/hollow.sock")


def handle(nodes: Mapping[str, HollowNode], line: str) -> dict[str, object]:
    words = line.split()
    if not words:
        return {"error": "empty request"}
    if words[0] == "list":
        return {"nodes": {name: node.state.value for name, node in nodes.items()}}
    if words[0] == "latency":
        return _latency(nodes, words[1:])
    try:
        state = State(words[0])
    except ValueError:
        known = ", ".join(s.value for s in State)
        return {"error": f"unknown request {words[0]!r}: list, latency, {known}"}
    problem = _unknown(nodes, words[1:])
    if problem:
        return problem
    for name in words[1:]:
        nodes[name].set_state(state)
    return {"nodes": {name: state.value for name in words[1:]}}


def _latency(nodes: Mapping[str, HollowNode], words: list[str]) -> dict[str, object]:
    try:
        delay, jitter = float(words[0]), float(words[1])
        direction = words[2]
    except (IndexError, ValueError):
        return {"error": "latency takes: <seconds> <jitter> <to|from|both> <node>..."}
    if delay < 0 or jitter < 0 or direction not in ("to", "from", "both"):
        return {"error": "latency takes: <seconds> <jitter> <to|from|both> <node>..."}
    problem = _unknown(nodes, words[3:])
    if problem:
        return problem
    for name in words[3:]:
        if direction in ("to", "both"):
            nodes[name].outgoing.set(delay, jitter)
        if direction in ("from", "both"):
            nodes[name].incoming.set(delay, jitter)
    return {"nodes": {name: f"latency {delay:g}s" for name in words[3:]}}


def _unknown(nodes: Mapping[str, HollowNode], names: list[str]) -> dict[str, object] | None:
    unknown = [name for name in names if name not in nodes]
    if unknown:
        return {"error": f"no hollow node {unknown[0]!r} in this container"}
    return None


async def serve(nodes: Mapping[str, HollowNode], stop: asyncio.Event, path: Path = SOCKET) -> None:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            line = (await reader.readline()).decode()
            writer.write(json.dumps(handle(nodes, line)).encode() + b"\n")
            await writer.drain()
        writer.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(session, str(path))
    async with server:
        await stop.wait()


async def request(line: str, path: Path = SOCKET) -> dict[str, object]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = json.loads(await reader.readline())
    writer.close()
    return dict(answer)


def main() -> None:
    answer = asyncio.run(request(" ".join(sys.argv[1:])))
    print(json.dumps(answer))
    if "error" in answer:
        sys.exit(1)


if __name__ == "__main__":
    main()
