"""One hollow node: it joins, registers and heartbeats over the same gRPC node service as a
real kubelet (its own certificate, its Lease), and plays its pods' lives on paper.

Many share one process: each is a few tasks and one gRPC channel. Its state can be set from
outside (running; paused: silent but connected, as a frozen node; partitioned: silent, as a
node cut off from the control plane; stopped: disconnected), and its messages delayed both
ways, which is how node and network faults reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import ipaddress
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson

from ku7s.aio import sleep_unless, wait_any
from ku7s.api import meta
from ku7s.names import HOLLOW_NODE_LABEL
from ku7s.rpc import node_pb2
from node_image.hollow.pod_life import Defaults, HollowPod, ScriptError, script_of
from node_image.kubelet.credentials import Credentials, join
from node_image.kubelet.kubelet import ControlPlaneEndpoint, node_channel
from node_image.kubelet.node_info import KUBELET_VERSION
from node_image.kubelet.pod_status import stamp_transitions
from node_image.kubelet.reporter import Reporter
from node_image.kubelet.session import (
    SessionEnded,
    Writer,
    connected,
    join_until_done,
    messages,
    send_reports,
    until_one_ends,
)
from node_image.packet_delay import Delay

Object = dict[str, Any]

log = logging.getLogger("hollow")

RUNTIME_VERSION = "hollow://ku7s"


class State(enum.Enum):
    RUNNING = "running"
    #: Connected but silent: no heartbeats, no reports (a frozen node).
    PAUSED = "paused"
    #: Silent the same way, as a node whose packets to and from the control plane are lost.
    PARTITIONED = "partitioned"
    #: Disconnected, as a stopped machine.
    STOPPED = "stopped"


@dataclass(frozen=True)
class HollowSettings:
    name: str
    cluster: str
    #: The address pods on it report as their host's (the hollow container's).
    address: str
    capacity: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[tuple[str, str, str]] = field(default_factory=list)
    defaults: Defaults = field(default_factory=Defaults)


def hollow_registration(settings: HollowSettings) -> node_pb2.Registration:
    machine = uuid.uuid5(uuid.NAMESPACE_DNS, f"{settings.cluster}.{settings.name}")
    labels = {
        "kubernetes.io/hostname": settings.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        HOLLOW_NODE_LABEL: "true",
        **settings.labels,
    }
    return node_pb2.Registration(
        node_name=settings.name,
        labels=labels,
        taints=[node_pb2.Taint(key=k, value=v, effect=e) for k, v, e in settings.taints],
        capacity=settings.capacity,
        allocatable=settings.capacity,
        addresses=[
            node_pb2.NodeAddress(type="InternalIP", address=settings.address),
            node_pb2.NodeAddress(type="Hostname", address=settings.name),
        ],
        node_info=node_pb2.NodeSystemInfo(
            machine_id=machine.hex,
            system_uuid=str(machine),
            boot_id=str(uuid.uuid4()),
            kernel_version="hollow",
            os_image="ku7s hollow node",
            container_runtime_version=RUNTIME_VERSION,
            kubelet_version=KUBELET_VERSION,
            kube_proxy_version=KUBELET_VERSION,
            operating_system="linux",
            architecture="amd64",
        ),
        provider_id=f"ku7s://{settings.cluster}/{settings.name}",
    )


#: The states in which a node sends nothing.
SILENT = (State.PAUSED, State.PARTITIONED)


class Latency:
    """How long a node's messages take one way: a delay give or take a jitter, drawn as the
    latency fault's packet holder draws it, and in order (as over TCP: a message never
    overtakes the one before)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.held = Delay(0.0)
        self._last = 0.0

    @property
    def delay(self) -> float:
        return self.held.latency

    def set(self, delay: float, jitter: float) -> None:
        self.held = Delay(delay, jitter)

    def due(self, now: float) -> float:
        """When a message sent now arrives."""
        if not self.held.latency:
            return now
        self._last = max(now + self.held.draw(self._rng), self._last)
        return self._last


class PodAddresses:
    """Pod IPs from the node's pod CIDR, the first and second kept (network, gateway)."""

    def __init__(self, cidr: str) -> None:
        self._hosts = ipaddress.ip_network(cidr).hosts()
        next(self._hosts, None)  # the gateway's, on a real node
        self._free: list[str] = []
        self.cidr = cidr

    def take(self) -> str:
        if self._free:
            return self._free.pop()
        address = next(self._hosts, None)
        return str(address) if address is not None else ""

    def give_back(self, address: str) -> None:
        if address:
            self._free.append(address)


class HollowNode:
    def __init__(
        self,
        settings: HollowSettings,
        endpoint: ControlPlaneEndpoint,
        token: str,
        ca_pem: bytes,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        retry_interval: float = 0.5,
    ) -> None:
        self.settings = settings
        self._endpoint = endpoint
        self._token = token
        self._ca_pem = ca_pem
        self._rng = rng or random.Random()
        self._clock = clock
        self._retry = retry_interval
        self._registration = hollow_registration(settings)
        self.state = State.RUNNING
        self._state_changed = asyncio.Event()
        self.pods: dict[str, HollowPod] = {}
        self._reported: dict[str, Object] = {}
        self._addresses: PodAddresses | None = None
        self._reporter = Reporter()
        self._wake = asyncio.Event()
        #: (moment, pod uid): when a pod's status changes next.
        self._due: list[tuple[float, str]] = []
        self.registered = asyncio.Event()
        #: Delays of what it sends and what it receives (latency faults).
        self.outgoing = Latency(self._rng)
        self.incoming = Latency(self._rng)

    def set_state(self, state: State) -> None:
        if state != self.state:
            log.info("hollow node %s: %s", self.settings.name, state.value)
            self.state = state
            self._state_changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        creds = await self._join(stop)
        if creds is None:
            return
        channel = node_channel(self._endpoint.node_target, creds)
        try:
            while not stop.is_set():
                if self.state == State.STOPPED:
                    await self._until_state_changes(stop)
                    continue
                try:
                    await self._session(channel, stop)
                except (grpc.aio.AioRpcError, SessionEnded, TimeoutError) as e:
                    log.info("hollow node %s: session ended: %s", self.settings.name, e)
                    await sleep_unless(stop, self._retry)
        finally:
            await channel.close()

    async def _until_state_changes(self, stop: asyncio.Event) -> None:
        self._state_changed.clear()
        await wait_any(stop, self._state_changed, timeout=3600)

    async def _join(self, stop: asyncio.Event) -> Credentials | None:
        return await join_until_done(
            lambda: join(
                self._endpoint.bootstrap_target, self._token, self.settings.name, self._ca_pem
            ),
            stop,
            retry_interval=self._retry,
            refused_retry_interval=5.0,
        )

    async def _session(self, channel: grpc.aio.Channel, stop: asyncio.Event) -> None:
        async with connected(channel, self._registration) as (call, send, registered):
            if self._addresses is None or self._addresses.cidr != registered.pod_cidr:
                self._addresses = PodAddresses(registered.pod_cidr)
            self.registered.set()
            interval = max(registered.heartbeat_interval_ms, 100) / 1000
            acks: asyncio.Queue[node_pb2.HeartbeatAck] = asyncio.Queue()
            inbox: asyncio.Queue[tuple[float, node_pb2.ControlMessage]] = asyncio.Queue()

            async def write(message: node_pb2.NodeMessage) -> None:
                await _until(self.outgoing.due(time.monotonic()))
                await send(message)

            await until_one_ends(
                self._read(call, inbox),
                self._deliver(inbox, acks),
                send_reports(self._reporter, write, self._while_silent),
                self._heartbeats(write, acks, interval, stop),
                self._play(stop),
                self._until_stopped(stop),
            )

    async def _while_silent(self) -> None:
        while self.state in SILENT:
            await asyncio.sleep(0.1)

    async def _until_stopped(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and self.state != State.STOPPED:
            await self._until_state_changes(stop)

    async def _read(
        self,
        call: grpc.aio.StreamStreamCall,
        inbox: asyncio.Queue[tuple[float, node_pb2.ControlMessage]],
    ) -> None:
        async for message in messages(call):
            inbox.put_nowait((self.incoming.due(time.monotonic()), message))

    async def _deliver(
        self,
        inbox: asyncio.Queue[tuple[float, node_pb2.ControlMessage]],
        acks: asyncio.Queue[node_pb2.HeartbeatAck],
    ) -> None:
        """Act on what the control plane sent, each message once its delay has passed."""
        while True:
            due, message = await inbox.get()
            await _until(due)
            kind = message.WhichOneof("kind")
            if kind == "ack":
                acks.put_nowait(message.ack)
            elif kind == "pod":
                self.assign(orjson.loads(message.pod.pod_json))
            elif kind == "pod_removed":
                self.removed(message.pod_removed.uid)

    def assign(self, pod: Object) -> None:
        """A pod bound here, new or changed."""
        uid = meta.uid_of(pod)
        known = self.pods.get(uid)
        if pod["metadata"].get("deletionTimestamp"):
            # Nothing runs, so nothing needs its grace period: the pod may go.
            self._reporter.terminated(pod)
            return
        if known is not None:
            known.pod = pod
            return
        now = self._clock()
        try:
            script = script_of(pod, self.settings.defaults, self._rng)
        except ScriptError as e:
            self._reporter.event(pod, "Warning", "FailedScript", str(e))
            script = script_of({"spec": pod.get("spec")}, self.settings.defaults, self._rng)
        address = self._addresses.take() if self._addresses is not None else ""
        self.pods[uid] = HollowPod(pod, script, now, self.settings.address, address)
        self._report(uid, now)
        self._schedule(uid, now)

    def removed(self, uid: str) -> None:
        hollow = self.pods.pop(uid, None)
        self._reported.pop(uid, None)
        if hollow is not None and self._addresses is not None:
            self._addresses.give_back(hollow.pod_ip)

    def _report(self, uid: str, now: float) -> None:
        hollow = self.pods[uid]
        status = hollow.status(now)
        status = stamp_transitions(status, self._reported.get(uid), meta.now_rfc3339())
        if status != self._reported.get(uid):
            self._reported[uid] = status
            self._reporter.status(hollow.pod, status)

    def _schedule(self, uid: str, now: float) -> None:
        moment = self.pods[uid].next_change(now)
        if moment is not None:
            heapq.heappush(self._due, (moment, uid))
            self._wake.set()

    async def _play(self, stop: asyncio.Event) -> None:
        """Report each pod's status at the moments its life says it changes."""
        while not stop.is_set():
            now = self._clock()
            while self._due and self._due[0][0] <= now:
                _, uid = heapq.heappop(self._due)
                if uid in self.pods:  # else removed since
                    self._report(uid, now)
                    self._schedule(uid, now)
            self._wake.clear()
            wait = self._due[0][0] - now if self._due else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _heartbeats(
        self,
        write: Writer,
        acks: asyncio.Queue[node_pb2.HeartbeatAck],
        interval: float,
        stop: asyncio.Event,
    ) -> None:
        # Spread the beats of the nodes of one process over the interval.
        await sleep_unless(stop, self._rng.uniform(0, interval))
        while not stop.is_set():
            if self.state == State.RUNNING:
                await write(node_pb2.NodeMessage(heartbeat=node_pb2.Heartbeat(ready=True)))
                ack = await asyncio.wait_for(acks.get(), timeout=max(3 * interval, 3))
                if ack.heartbeat_interval_ms:
                    interval = max(ack.heartbeat_interval_ms, 100) / 1000
            await sleep_unless(stop, interval)


async def _until(moment: float) -> None:
    """Sleep until the monotonic moment, if it is ahead."""
    wait = moment - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
