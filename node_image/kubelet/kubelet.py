"""The kubelet component: join, register, and keep the Node's status and Lease fresh."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc

from ku7s.rpc import node_pb2, node_pb2_grpc
from node_image.kubelet import cni
from node_image.kubelet.credentials import Credentials, CredentialStore, JoinRefused
from node_image.kubelet.cri import CRIClient
from node_image.kubelet.images import ImagePreloader
from node_image.kubelet.node_info import NodeSettings, registration

log = logging.getLogger("kubelet")


@dataclass(frozen=True)
class ControlPlaneEndpoint:
    host: str
    bootstrap_port: int = 6444
    node_port: int = 6445

    @property
    def bootstrap_target(self) -> str:
        return f"{self.host}:{self.bootstrap_port}"

    @property
    def node_target(self) -> str:
        return f"{self.host}:{self.node_port}"


#: How often the runtime is asked again while the node is not ready yet.
_NOT_READY_POLL = 0.1


class SessionEnded(Exception):
    """The control plane closed the session or stopped answering."""


class Kubelet:
    def __init__(
        self,
        settings: NodeSettings,
        endpoint: ControlPlaneEndpoint,
        bootstrap_token: str,
        cri: CRIClient,
        credentials: CredentialStore,
        preloader: ImagePreloader,
        cni_conf_dir: Path,
        *,
        retry_interval: float = 0.5,
        refused_retry_interval: float = 5.0,
    ) -> None:
        self._settings = settings
        self._endpoint = endpoint
        self._token = bootstrap_token
        self._cri = cri
        self._credentials = credentials
        self._preloader = preloader
        self._cni_conf_dir = cni_conf_dir
        self._retry_interval = retry_interval
        self._refused_retry_interval = refused_retry_interval
        self._images_ready = asyncio.Event()

    @property
    def images_ready(self) -> asyncio.Event:
        """Set once the shipped images are in containerd; pods wait for it, Ready does not
        (as upstream, where a node is Ready before its images are pulled)."""
        return self._images_ready

    async def run(self, stop: asyncio.Event) -> None:
        # Joining needs no runtime, so it overlaps with containerd's start-up.
        runtime = asyncio.create_task(self._cri.wait_for_version())
        preload: asyncio.Task[None] | None = None
        try:
            creds = self._credentials.load() or await self._join(stop)
            version = await runtime
            log.info("container runtime %s (CRI %s)", version.node_info_string, version.api_version)
            if creds is None:
                return
            preload = asyncio.create_task(self._preload_images())
            reg = registration(self._settings, version.node_info_string)
            while not stop.is_set():
                try:
                    await self._session(creds, reg, stop)
                except (grpc.aio.AioRpcError, SessionEnded, TimeoutError) as e:
                    log.warning("session with the control plane ended: %s", _describe(e))
                    await _sleep_unless(stop, self._retry_interval)
        finally:
            for task in (runtime, preload):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _preload_images(self) -> None:
        try:
            imported = await self._preloader.preload(await self._cri.image_tags())
            if imported:
                log.info("preloaded images: %s", ", ".join(imported))
            self._images_ready.set()
        except Exception:
            log.exception("preloading images failed")
            raise

    async def _join(self, stop: asyncio.Event) -> Credentials | None:
        while not stop.is_set():
            try:
                return await self._credentials.join(
                    self._endpoint.bootstrap_target, self._token, self._settings.name
                )
            except JoinRefused as e:
                log.error("the control plane refused to let this node join: %s", e)
                await _sleep_unless(stop, self._refused_retry_interval)
            except grpc.aio.AioRpcError as e:
                log.warning("join failed, retrying: %s", _describe(e))
                await _sleep_unless(stop, self._retry_interval)
        return None

    async def _heartbeat(self) -> node_pb2.Heartbeat:
        readiness = await self._cri.readiness()
        if not readiness.ready:
            return node_pb2.Heartbeat(
                ready=False, reason="KubeletNotReady", message=readiness.message
            )
        return node_pb2.Heartbeat(ready=True)

    async def _session(
        self, creds: Credentials, reg: node_pb2.Registration, stop: asyncio.Event
    ) -> None:
        channel = grpc.aio.secure_channel(
            self._endpoint.node_target,
            creds.channel_credentials(),
            options=[
                ("grpc.keepalive_time_ms", 2000),
                ("grpc.keepalive_timeout_ms", 2000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ],
        )
        call = node_pb2_grpc.NodeServiceStub(channel).Connect(wait_for_ready=True)
        try:
            await call.write(node_pb2.NodeMessage(register=reg))
            reply = await asyncio.wait_for(call.read(), timeout=30)
            if reply is grpc.aio.EOF or reply.WhichOneof("kind") != "registered":
                raise SessionEnded("no registration reply")
            registered = reply.registered
            if cni.write_config(self._cni_conf_dir, registered.pod_cidr):
                log.info("wrote CNI config for pod CIDR %s", registered.pod_cidr)
            log.info("registered node %s (pod CIDR %s)", reg.node_name, registered.pod_cidr)
            interval = max(registered.heartbeat_interval_ms, 100) / 1000
            await self._heartbeats(call, interval, stop)
            await call.done_writing()
        finally:
            call.cancel()
            await channel.close()

    async def _heartbeats(
        self, call: grpc.aio.StreamStreamCall, interval: float, stop: asyncio.Event
    ) -> None:
        """Beat every interval, and at once when readiness changes.

        While the node is not ready the runtime is polled quickly, so the moment the CNI
        config loads and the images are in, the control plane hears of it.
        """
        loop = asyncio.get_running_loop()
        last_sent, last_ready = -interval, None
        while not stop.is_set():
            beat = await self._heartbeat()
            now = loop.time()
            if beat.ready != last_ready or now - last_sent >= interval:
                await call.write(node_pb2.NodeMessage(heartbeat=beat))
                ack = await asyncio.wait_for(call.read(), timeout=max(3 * interval, 3))
                if ack is grpc.aio.EOF:
                    raise SessionEnded("the control plane closed the stream")
                last_sent, last_ready = now, beat.ready
            wait = interval - (loop.time() - last_sent) if beat.ready else _NOT_READY_POLL
            await _sleep_unless(stop, max(wait, 0.01))


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _describe(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error) or type(error).__name__
