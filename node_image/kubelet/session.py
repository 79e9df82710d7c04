"""A node's side of the node service, shared by the kubelet and hollow nodes: joining with
the bootstrap token, opening a Connect session (register, wait for the answer), running the
session's parts until one ends, and sending what the reporter queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import grpc

from ku7s.aio import sleep_unless
from ku7s.rpc import node_pb2, node_pb2_grpc
from node_image.kubelet.credentials import Credentials, JoinRefused
from node_image.kubelet.reporter import Reporter

log = logging.getLogger("kubelet")

Writer = Callable[[node_pb2.NodeMessage], Awaitable[None]]


class SessionEnded(Exception):
    """The control plane closed the session or stopped answering."""


async def join_until_done(
    join: Callable[[], Awaitable[Credentials]],
    stop: asyncio.Event,
    *,
    retry_interval: float,
    refused_retry_interval: float,
) -> Credentials | None:
    """Join, retrying until it works (None if stop came first); a refusal (wrong token,
    bad name) is retried more slowly, as only a change by hand helps."""
    while not stop.is_set():
        try:
            return await join()
        except JoinRefused as e:
            log.error("the control plane refused to let this node join: %s", e)
            await sleep_unless(stop, refused_retry_interval)
        except grpc.aio.AioRpcError as e:
            log.warning("join failed, retrying: %s", describe(e))
            await sleep_unless(stop, retry_interval)
    return None


@contextlib.asynccontextmanager
async def connected(
    channel: grpc.aio.Channel, registration: node_pb2.Registration
) -> AsyncIterator[tuple[grpc.aio.StreamStreamCall, Writer, node_pb2.Registered]]:
    """A Connect session, registered: the call, a writer safe for concurrent parts, and
    the control plane's answer to the registration."""
    call = node_pb2_grpc.NodeServiceStub(channel).Connect(wait_for_ready=True)
    writing = asyncio.Lock()

    async def write(message: node_pb2.NodeMessage) -> None:
        async with writing:
            await call.write(message)

    try:
        await write(node_pb2.NodeMessage(register=registration))
        reply = await asyncio.wait_for(call.read(), timeout=30)
        if reply is grpc.aio.EOF or reply.WhichOneof("kind") != "registered":
            raise SessionEnded("no registration reply")
        yield call, write, reply.registered
    finally:
        call.cancel()


async def messages(call: grpc.aio.StreamStreamCall) -> AsyncIterator[node_pb2.ControlMessage]:
    """What the control plane sends on the session, until it closes it."""
    while True:
        message = await call.read()
        if message is grpc.aio.EOF:
            raise SessionEnded("the control plane closed the stream")
        yield message


async def until_one_ends(*parts: Coroutine[Any, Any, None]) -> None:
    """Run the session's parts until one ends; the others are cancelled, and what ended the
    first is raised."""
    tasks = [asyncio.create_task(part) for part in parts]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


async def send_reports(
    reporter: Reporter, write: Writer, hold: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Send what the pod workers report, in order; what a broken session did not send
    waits for the next. hold, if given, is awaited before each batch (a silent node)."""
    while True:
        batch = await reporter.next_batch()
        if hold is not None:
            await hold()
        for i, message in enumerate(batch):
            try:
                await write(message)
            except BaseException:
                reporter.put_back(batch[i:])
                raise


def describe(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error) or type(error).__name__
