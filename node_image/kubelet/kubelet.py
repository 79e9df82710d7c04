"""The kubelet component: join, register, keep the Node's status and Lease fresh, and run
the pods the control plane assigns, over one gRPC session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import orjson
from prometheus_client import CollectorRegistry

from ku7s.aio import sleep_unless
from ku7s.api.persistent_volumes import LOCAL_PATH_ROOT
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.rpc import node_pb2
from node_image.kubelet import cni
from node_image.kubelet.cgroups import PodCgroups
from node_image.kubelet.credentials import Credentials, CredentialStore
from node_image.kubelet.cri import CRIClient
from node_image.kubelet.images import ImagePreloader
from node_image.kubelet.local_volumes import LocalVolumeSweeper
from node_image.kubelet.metrics import KubeletMetrics
from node_image.kubelet.node_info import NodeSettings, registration
from node_image.kubelet.object_source import FetchedObjects
from node_image.kubelet.pod_manager import PodManager
from node_image.kubelet.pod_worker import WorkerContext
from node_image.kubelet.reporter import Reporter
from node_image.kubelet.resource_metrics import CadvisorMetrics, ResourceMetrics, UsageSource
from node_image.kubelet.runtime_view import RuntimeView
from node_image.kubelet.sandbox_config import ClusterDNS
from node_image.kubelet.service_account_tokens import ServiceAccountTokens
from node_image.kubelet.session import (
    SessionEnded,
    Writer,
    connected,
    describe,
    join_until_done,
    messages,
    send_reports,
    until_one_ends,
)
from node_image.kubelet.volumes import PodVolumes

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


@dataclass(frozen=True)
class PodSettings:
    """Where pods' files live on the node and how their DNS is set up."""

    pods_dir: Path = Path("/var/lib/ku7s/kubelet/pods")
    dns: ClusterDNS = field(default_factory=ClusterDNS)
    relist_interval: float = 1.0
    api_port: int = 10250
    #: Plain HTTP, metrics only, on the cluster network (as upstream's old read-only port).
    read_only_port: int = 10255


#: How often the runtime is asked again while the node is not ready yet.
_NOT_READY_POLL = 0.1


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
        cgroups: PodCgroups,
        pod_settings: PodSettings | None = None,
        *,
        metrics: KubeletMetrics | None = None,
        usage: UsageSource | None = None,
        retry_interval: float = 0.5,
        refused_retry_interval: float = 5.0,
    ) -> None:
        self._metrics = metrics or KubeletMetrics(CollectorRegistry(), settings.name)
        self._usage = usage
        self._settings = settings
        self._endpoint = endpoint
        self._token = bootstrap_token
        self._cri = cri
        self._credentials = credentials
        self._preloader = preloader
        self._cni_conf_dir = cni_conf_dir
        self._cgroups = cgroups
        self._pod_settings = pod_settings or PodSettings()
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
        background: list[asyncio.Task[None]] = []
        channel: grpc.aio.Channel | None = None
        manager: PodManager | None = None
        api: asyncio.Task[Any] | None = None
        try:
            creds = self._credentials.load() or await self._join(stop)
            version = await runtime
            log.info("container runtime %s (CRI %s)", version.node_info_string, version.api_version)
            if creds is None:
                return
            background.append(asyncio.create_task(self._preload_images()))
            reg = registration(self._settings, version.node_info_string)
            channel = node_channel(self._endpoint.node_target, creds)
            reporter = Reporter(on_phase=self._metrics.pod_phase)
            manager, view = self._pods(reg, channel, reporter)
            background.append(asyncio.create_task(view.run(stop)))
            sweeper = LocalVolumeSweeper(Path(LOCAL_PATH_ROOT), FetchedObjects(channel, ttl=0))
            background.append(asyncio.create_task(sweeper.run(stop)))
            # Off the path to Ready: the API is only needed once pods run.
            api = asyncio.create_task(self._serve(manager, view, stop))
            while not stop.is_set():
                try:
                    await self._session(channel, reg, stop, manager, reporter)
                except (grpc.aio.AioRpcError, SessionEnded, TimeoutError) as e:
                    log.warning("session with the control plane ended: %s", describe(e))
                    await sleep_unless(stop, self._retry_interval)
        finally:
            if api is not None:
                api.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await api
            if manager is not None:
                await manager.stop()
            for task in (runtime, *background):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if channel is not None:
                await channel.close()

    def _pods(
        self, reg: node_pb2.Registration, channel: grpc.aio.Channel, reporter: Reporter
    ) -> tuple[PodManager, RuntimeView]:
        settings = self._pod_settings
        objects = FetchedObjects(channel)
        allocatable = dict(reg.allocatable)
        node_ip = next((a.address for a in reg.addresses if a.type == "InternalIP"), "")
        manager: PodManager
        view = RuntimeView(
            self._cri.pods,
            lambda uid: manager.pod_changed(uid),
            relist_interval=settings.relist_interval,
            on_relisted=self._metrics.relisted,
        )
        self._metrics.watch_runtime(view.counts)
        manager = PodManager(
            WorkerContext(
                runtime=self._cri.pods,
                view=view,
                reporter=reporter,
                volumes=PodVolumes(
                    settings.pods_dir, objects, allocatable, ServiceAccountTokens(channel)
                ),
                objects=objects,
                cgroups=self._cgroups,
                dns=settings.dns,
                node_ip=node_ip,
                node_allocatable=allocatable,
                pods_dir=settings.pods_dir,
                metrics=self._metrics,
            )
        )
        return manager, view

    def _metrics_registries(self, manager: PodManager) -> dict[str, CollectorRegistry]:
        """/metrics, and where the cgroups can be read, /metrics/resource and cadvisor."""
        registries = {"/metrics": self._metrics.registry}
        if self._usage is not None:
            for path, collector in (
                ("/metrics/resource", ResourceMetrics(self._usage, manager.running_pods)),
                ("/metrics/cadvisor", CadvisorMetrics(self._usage, manager.running_pods)),
            ):
                registries[path] = CollectorRegistry()
                registries[path].register(collector)
        return registries

    async def _serve(self, manager: PodManager, view: RuntimeView, stop: asyncio.Event) -> None:
        """The kubelet API (logs, exec, metrics) on port 10250, and the metrics alone on the
        read-only port, until stop."""
        from aiohttp import web

        from node_image.kubelet.server import KubeletServer

        registries = self._metrics_registries(manager)
        read_only = asyncio.create_task(
            MetricsEndpoint(registries, self._pod_settings.read_only_port).run(stop)
        )
        server = KubeletServer(manager, view, self._cri.pods, registries)
        runner = web.AppRunner(server.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(
            runner,
            "0.0.0.0",
            self._pod_settings.api_port,
            ssl_context=self._credentials.serving_context(),
            # Open `logs -f` and exec streams must not hold up a restart.
            shutdown_timeout=1.0,
        )
        try:
            await site.start()
            await stop.wait()
        finally:
            read_only.cancel()
            await runner.cleanup()

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
        return await join_until_done(
            lambda: self._credentials.join(
                self._endpoint.bootstrap_target, self._token, self._settings.name
            ),
            stop,
            retry_interval=self._retry_interval,
            refused_retry_interval=self._refused_retry_interval,
        )

    async def _heartbeat(self) -> node_pb2.Heartbeat:
        readiness = await self._cri.readiness()
        if not readiness.ready:
            return node_pb2.Heartbeat(
                ready=False, reason="KubeletNotReady", message=readiness.message
            )
        return node_pb2.Heartbeat(ready=True)

    async def _session(
        self,
        channel: grpc.aio.Channel,
        reg: node_pb2.Registration,
        stop: asyncio.Event,
        manager: PodManager,
        reporter: Reporter,
    ) -> None:
        async with connected(channel, reg) as (call, write, registered):
            if cni.write_config(self._cni_conf_dir, registered.pod_cidr):
                log.info("wrote CNI config for pod CIDR %s", registered.pod_cidr)
            masquerade = asyncio.create_task(
                cni.ensure_masquerade(registered.pod_cidr, registered.cluster_cidr)
            )
            if registered.cluster_dns:
                manager.use_cluster_dns(registered.cluster_dns, registered.cluster_domain)
            masquerade.add_done_callback(_log_masquerade(registered.pod_cidr))
            log.info("registered node %s (pod CIDR %s)", reg.node_name, registered.pod_cidr)
            interval = max(registered.heartbeat_interval_ms, 100) / 1000
            acks: asyncio.Queue[node_pb2.HeartbeatAck] = asyncio.Queue()
            await until_one_ends(
                self._read(call, manager, acks),
                send_reports(reporter, write),
                self._heartbeats(write, acks, interval, stop),
            )
            await call.done_writing()

    async def _read(
        self,
        call: grpc.aio.StreamStreamCall,
        manager: PodManager,
        acks: asyncio.Queue[node_pb2.HeartbeatAck],
    ) -> None:
        """Dispatch what the control plane sends: heartbeat answers and pods."""
        synced: asyncio.Task[None] | None = None
        async for message in messages(call):
            kind = message.WhichOneof("kind")
            if kind == "ack":
                acks.put_nowait(message.ack)
            elif kind == "pod":
                manager.assign(orjson.loads(message.pod.pod_json), message.pod.runtime_handler)
            elif kind == "pod_removed":
                manager.removed(message.pod_removed.uid)
            elif kind == "pods_synced":
                synced = asyncio.create_task(manager.synced())
                synced.add_done_callback(_log_failure)

    async def _heartbeats(
        self,
        write: Writer,
        acks: asyncio.Queue[node_pb2.HeartbeatAck],
        interval: float,
        stop: asyncio.Event,
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
                await write(node_pb2.NodeMessage(heartbeat=beat))
                ack = await asyncio.wait_for(acks.get(), timeout=max(3 * interval, 3))
                last_sent, last_ready = now, beat.ready
                if ack.heartbeat_interval_ms:  # the control plane's pace for this many nodes
                    interval = max(ack.heartbeat_interval_ms, 100) / 1000
            wait = interval - (loop.time() - last_sent) if beat.ready else _NOT_READY_POLL
            await sleep_unless(stop, max(wait, 0.01))


def node_channel(target: str, creds: Credentials) -> grpc.aio.Channel:
    """The channel of a node's session: kept alive, quick to reconnect."""
    return grpc.aio.secure_channel(
        target,
        creds.channel_credentials(),
        options=[
            ("grpc.keepalive_time_ms", 2000),
            ("grpc.keepalive_timeout_ms", 2000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ],
    )


def _log_masquerade(pod_cidr: str) -> Callable[[asyncio.Task[bool]], None]:
    def done(task: asyncio.Task[bool]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("masquerading pod CIDR %s failed: %s", pod_cidr, task.exception())
        elif task.result():
            log.info("masquerading traffic leaving pod CIDR %s", pod_cidr)

    return done


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("cleaning up left-over pods failed: %r", task.exception())
