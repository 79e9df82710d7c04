"""The node's sandboxes and containers as the runtime last listed them, grouped by pod.

Upstream calls this the pod lifecycle event generator: containerd 1.6 sends no container
events over CRI, so the kubelet lists everything every relist interval (and at once when a
pod worker asks, after it acted) and wakes the workers of pods whose containers changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ku7s.rpc import cri_pb2
from node_image.kubelet.container_config import (
    CONTAINER_NAME_LABEL,
    HASH_ANNOTATION,
    RESTART_COUNT_ANNOTATION,
)
from node_image.kubelet.cri import CRIError, PodRuntime
from node_image.kubelet.sandbox_config import POD_UID_LABEL

log = logging.getLogger("kubelet")


@dataclass(frozen=True)
class SandboxEntry:
    id: str
    attempt: int
    ready: bool
    created_at: int


@dataclass(frozen=True)
class ContainerEntry:
    id: str
    name: str
    sandbox_id: str
    state: int
    restart_count: int
    spec_hash: str
    created_at: int
    image_ref: str


@dataclass
class PodRuntimeState:
    sandboxes: list[SandboxEntry] = field(default_factory=list)
    containers: list[ContainerEntry] = field(default_factory=list)

    def newest_sandbox(self) -> SandboxEntry | None:
        return max(self.sandboxes, key=lambda s: (s.attempt, s.created_at), default=None)


def group_by_pod(
    sandboxes: list[cri_pb2.PodSandbox], containers: list[cri_pb2.Container]
) -> dict[str, PodRuntimeState]:
    pods: dict[str, PodRuntimeState] = {}
    for sandbox in sandboxes:
        uid = sandbox.labels.get(POD_UID_LABEL) or sandbox.metadata.uid
        pods.setdefault(uid, PodRuntimeState()).sandboxes.append(
            SandboxEntry(
                sandbox.id,
                sandbox.metadata.attempt,
                sandbox.state == cri_pb2.SANDBOX_READY,
                sandbox.created_at,
            )
        )
    for container in containers:
        uid = container.labels.get(POD_UID_LABEL, "")
        if not uid:
            continue
        pods.setdefault(uid, PodRuntimeState()).containers.append(
            ContainerEntry(
                container.id,
                container.labels.get(CONTAINER_NAME_LABEL) or container.metadata.name,
                container.pod_sandbox_id,
                container.state,
                int(container.annotations.get(RESTART_COUNT_ANNOTATION, "0") or 0),
                container.annotations.get(HASH_ANNOTATION, ""),
                container.created_at,
                container.image_ref,
            )
        )
    return pods


def _fingerprint(state: PodRuntimeState) -> tuple[object, ...]:
    return (
        tuple(sorted((s.id, s.ready) for s in state.sandboxes)),
        tuple(sorted((c.id, c.state) for c in state.containers)),
    )


class RuntimeView:
    def __init__(
        self,
        runtime: PodRuntime,
        on_pod_changed: Callable[[str], None],
        *,
        relist_interval: float = 1.0,
        on_relisted: Callable[[float, float], None] | None = None,
    ) -> None:
        self._runtime = runtime
        self._on_relisted = on_relisted
        self._on_pod_changed = on_pod_changed
        self._interval = relist_interval
        self._pods: dict[str, PodRuntimeState] = {}
        self._wanted = asyncio.Event()
        self.listed = asyncio.Event()
        #: Relists started so far, and relists finished; fresh() waits for one to start
        #: after it was called and finish.
        self._started = 0
        self._finished = 0
        self._progress = asyncio.Condition()

    def pod(self, uid: str) -> PodRuntimeState:
        return self._pods.get(uid) or PodRuntimeState()

    def pod_uids(self) -> set[str]:
        return set(self._pods)

    def relist_soon(self) -> None:
        self._wanted.set()

    async def fresh(self) -> None:
        """Wait for a relist that began after this call (so it sees what the caller did)."""
        target = self._started + 1
        self._wanted.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._finished >= target)

    def counts(self) -> tuple[int, list[int]]:
        """Pods with a ready sandbox, and every container's CRI state, for the metrics."""
        pods = sum(
            1
            for state in self._pods.values()
            if (sandbox := state.newest_sandbox()) is not None and sandbox.ready
        )
        return pods, [c.state for state in self._pods.values() for c in state.containers]

    async def relist(self) -> None:
        self._started += 1
        started = time.monotonic()
        try:
            await self._relist()
        finally:
            if self._on_relisted is not None:
                self._on_relisted(started, time.monotonic() - started)
            self._finished = self._started
            async with self._progress:
                self._progress.notify_all()

    async def _relist(self) -> None:
        try:
            sandboxes = await self._runtime.list_sandboxes()
            containers = await self._runtime.list_containers()
        except CRIError as e:
            log.warning("listing the runtime's pods failed: %s", e.message)
            return
        fresh = group_by_pod(sandboxes, containers)
        changed = {
            uid
            for uid in set(fresh) | set(self._pods)
            if _fingerprint(fresh.get(uid, PodRuntimeState()))
            != _fingerprint(self._pods.get(uid, PodRuntimeState()))
        }
        self._pods = fresh
        self.listed.set()
        for uid in changed:
            self._on_pod_changed(uid)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wanted.clear()
            await self.relist()
            if self._wanted.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), timeout=self._interval)
