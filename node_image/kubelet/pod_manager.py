"""The pods this node runs: one worker per pod the control plane assigned, and clean-up of
what the runtime holds for pods no longer assigned (found once the assignments are synced,
for instance after the kubelet restarted while a pod was deleted)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

from ku7s.api import meta
from ku7s.rpc.cri_pb2 import CONTAINER_RUNNING
from node_image.kubelet.cri import CRIError
from node_image.kubelet.pod_worker import PodWorker, WorkerContext
from node_image.kubelet.resource_metrics import ContainerRef, PodRef

Object = dict[str, Any]

log = logging.getLogger("kubelet")


class PodManager:
    def __init__(self, context: WorkerContext) -> None:
        self._ctx = context
        self._workers: dict[str, PodWorker] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def use_cluster_dns(self, server: str, domain: str) -> None:
        """The control plane's DNS settings, for the pods started from now on."""
        dns = dataclasses.replace(self._ctx.dns, server=server, domain=domain or "cluster.local")
        self._ctx = dataclasses.replace(self._ctx, dns=dns)

    def running_pods(self) -> list[PodRef]:
        """The pods with running containers, for the resource metrics."""
        refs = []
        for uid, worker in self._workers.items():
            state = self._ctx.view.pod(uid)
            containers = [
                ContainerRef(c.name, c.id, c.image_ref, c.created_at / 1e9)
                for c in state.containers
                if c.state == CONTAINER_RUNNING
            ]
            if containers:
                pod = worker.pod
                qos = (pod.get("status") or {}).get("qosClass", "BestEffort")
                refs.append(PodRef(meta.namespace_of(pod), meta.name_of(pod), uid, qos, containers))
        return refs

    def workers(self) -> dict[str, PodWorker]:
        return dict(self._workers)

    def assign(self, pod: Object, runtime_handler: str = "") -> None:
        """A pod bound here, with the CRI handler its RuntimeClass names."""
        uid = meta.uid_of(pod)
        worker = self._workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        worker = PodWorker(pod, self._ctx, runtime_handler)
        self._workers[uid] = worker
        if self._ctx.metrics is not None:
            self._ctx.metrics.pod_seen(uid)
        self._spawn(self._run(worker))

    def removed(self, uid: str) -> None:
        worker = self._workers.get(uid)
        if worker is not None:
            worker.remove()

    def pod_changed(self, uid: str) -> None:
        """The runtime view saw the pod's containers change."""
        worker = self._workers.get(uid)
        if worker is not None:
            worker.wake()

    async def synced(self) -> None:
        """Every assigned pod is known: what else the runtime runs is left over."""
        await self._ctx.view.fresh()
        for uid in self._ctx.view.pod_uids() - set(self._workers):
            self._spawn(self._remove_leftover(uid))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        except Exception:
            log.exception("worker of pod %s failed", worker.uid)
        finally:
            if self._workers.get(worker.uid) is worker:
                del self._workers[worker.uid]
                if self._ctx.metrics is not None:
                    self._ctx.metrics.pod_gone(worker.uid)

    async def _remove_leftover(self, uid: str) -> None:
        state = self._ctx.view.pod(uid)
        log.info("removing containers of pod %s, which this node no longer runs", uid)
        runtime = self._ctx.runtime
        for container in state.containers:
            with contextlib.suppress(CRIError):
                await runtime.stop_container(container.id, 0)
        for sandbox in state.sandboxes:
            with contextlib.suppress(CRIError):
                await runtime.stop_sandbox(sandbox.id)
                await runtime.remove_sandbox(sandbox.id)
        await self._ctx.volumes.tear_down(uid)
        for qos in ("Guaranteed", "Burstable", "BestEffort"):
            self._ctx.cgroups.remove(uid, qos)
        self._ctx.view.relist_soon()

    async def stop(self) -> None:
        """Stop the workers (the pods keep running: the kubelet adopts them when it is
        back)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
