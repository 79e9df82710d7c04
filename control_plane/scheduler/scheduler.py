"""kube-scheduler as a component: watch pods without a node, pick one for each through the
framework's plugins, and bind; say why when no node fits.

Pods are scheduled one at a time against the cache (so each sees the ones before it), and
bound concurrently in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from control_plane.scheduler.cache import SchedulerCache
from control_plane.scheduler.framework import Framework, PodInfo, Verdict
from control_plane.scheduler.metrics import SchedulerMetrics
from control_plane.scheduler.plugins import default_filters, default_scores
from control_plane.scheduler.plugins.volume_binding import BindingTimedOut, VolumeBinding
from control_plane.scheduler.preemption import Candidate, DefaultPreemption
from control_plane.scheduler.queue import SchedulingQueue
from control_plane.scheduler.volume_catalog import VolumeCatalog
from ku7s.api import meta
from ku7s.client.events import EventRecorder
from ku7s.client.informer import Informer
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("kube-scheduler")

DEFAULT_SCHEDULER_NAME = "default-scheduler"
#: How often an unchanged FailedScheduling is reported again for one pod.
REPORT_INTERVAL = 60.0


def _is_terminal(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class Scheduler:
    def __init__(
        self,
        client: APIClient,
        *,
        name: str = DEFAULT_SCHEDULER_NAME,
        framework: Framework | None = None,
        bind_concurrency: int = 32,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self._client = client
        self.name = name
        self.volumes = VolumeCatalog(client)
        self._volume_binding = VolumeBinding(self.volumes)
        self._framework = framework or Framework(
            [*default_filters(), self._volume_binding], default_scores()
        )
        self._preemption = DefaultPreemption(self._framework.filters)
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue()
        self.metrics = metrics or SchedulerMetrics(CollectorRegistry(), name)
        self.metrics.watch_queue(self.queue.pending)
        self._events = EventRecorder(client, name)
        self._binding = asyncio.Semaphore(bind_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        #: pod uid -> the last FailedScheduling message and when it was reported
        self._reported: dict[str, tuple[str, float]] = {}
        self._pods = Informer(client, "/api/v1/pods")
        self._nodes = Informer(client, "/api/v1/nodes")
        #: What preemption weighs victims against.
        self._budgets = Informer(client, "/apis/policy/v1/poddisruptionbudgets")
        self._pods.on_change(self._on_pod)
        self._nodes.on_change(self._on_node)
        for informer in self.volumes.informers:
            # A claim, volume or class that appears may let a waiting pod fit.
            informer.on_change(lambda _, __: self.queue.move_all_unschedulable())
        self.bound = 0

    # -- informer handlers --

    def _on_node(self, event: str, node: Object) -> None:
        if event == "DELETED":
            self.cache.remove_node(meta.name_of(node))
        else:
            self.cache.set_node(node)
        self.queue.move_all_unschedulable()

    def _on_pod(self, event: str, pod: Object) -> None:
        uid = meta.uid_of(pod)
        if event == "DELETED":
            self.queue.remove(uid)
            self.metrics.gone(uid)
            self.cache.remove_pod(uid)
            self._reported.pop(uid, None)
            self.queue.move_all_unschedulable()
            return
        spec = pod.get("spec") or {}
        if spec.get("nodeName"):
            self.queue.forget(uid)
            self._reported.pop(uid, None)
            self.cache.set_pod(pod)
            if _is_terminal(pod):
                self.queue.move_all_unschedulable()
            return
        mine = spec.get("schedulerName", DEFAULT_SCHEDULER_NAME) == self.name
        if not mine or pod["metadata"].get("deletionTimestamp") or _is_terminal(pod):
            self.queue.remove(uid)
            self.metrics.gone(uid)
            return
        self.metrics.queued(uid)
        self.queue.update(pod)

    # -- the loop --

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._nodes.run(stop))
            group.create_task(self._pods.run(stop))
            group.create_task(self._budgets.run(stop))
            for informer in self.volumes.informers:
                group.create_task(informer.run(stop))
            for informer in (self._nodes, self._pods, self._budgets, *self.volumes.informers):
                await informer.synced.wait()
            log.info("%s: caches synced; scheduling", self.name)
            loop = group.create_task(self._schedule_loop())
            flusher = group.create_task(self._flush_loop())
            await stop.wait()
            loop.cancel()
            flusher.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._events.flush()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(10)
            self.queue.flush_stale(time.monotonic())

    async def _schedule_loop(self) -> None:
        while True:
            pod = await self.queue.pop()
            self.schedule_one(pod)
            await asyncio.sleep(0)  # let informer events and bindings in

    def schedule_one(self, pod: Object) -> Verdict:
        started = self.metrics.attempted(meta.uid_of(pod))
        info = PodInfo.of(pod)
        verdict = self._framework.schedule(info, self.cache.nodes())
        if verdict.node is None:
            self.metrics.result("unschedulable", started)
            self.queue.unschedulable(pod, time.monotonic())
            self._spawn(self._report_unschedulable(pod, verdict))
            nominated = (pod.get("status") or {}).get("nominatedNodeName")
            if self._preemption.eligible(pod, self.cache.node(nominated) if nominated else None):
                candidate = self._preemption.find(info, self.cache.nodes(), self._budgets.list())
                if candidate is not None:
                    self._spawn(self._preempt(pod, candidate))
        else:
            self.cache.assume(info, verdict.node)
            self._spawn(self._bind(pod, verdict.node, started))
        return verdict

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, pod: Object, node: str, started: float) -> None:
        namespace, name, uid = meta.namespace_of(pod), meta.name_of(pod), meta.uid_of(pod)
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self._volume_binding.pre_bind(self._client, pod, node)
        except (BindingTimedOut, APIStatusError, aiohttp.ClientError, OSError) as e:
            self.metrics.result("error", started)
            self.cache.forget(uid)
            self.queue.retry_later(pod)
            message = f'running PreBind plugin "VolumeBinding": {e}'
            self._events.record(pod, "Warning", "FailedScheduling", message)
            return
        async with self._binding:
            try:
                await self._client.create(
                    f"/api/v1/namespaces/{namespace}/pods/{name}/binding", binding
                )
            except (APIStatusError, aiohttp.ClientError, OSError, TimeoutError) as e:
                self.metrics.result("error", started)
                self.cache.forget(uid)
                if isinstance(e, APIStatusError) and e.code in (404, 409):
                    log.info("binding %s/%s to %s failed: %s", namespace, name, node, e)
                    self.queue.remove(uid)  # gone, or bound by someone else
                else:
                    log.warning("binding %s/%s to %s failed: %s", namespace, name, node, e)
                    self.queue.retry_later(pod)
                return
        self.bound += 1
        self.metrics.result("scheduled", started)
        self.metrics.bound(uid)
        self.queue.forget(uid)
        self._events.record(
            pod, "Normal", "Scheduled", f"Successfully assigned {namespace}/{name} to {node}"
        )

    async def _preempt(self, pod: Object, candidate: Candidate) -> None:
        """Nominate the node for the pod, then evict the victims there (each told why)."""
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        node = candidate.node
        log.info(
            "preempting %d pods on %s for %s/%s", len(candidate.victims), node, namespace, name
        )
        with contextlib.suppress(APIStatusError, aiohttp.ClientError, OSError, TimeoutError):
            await self._client.patch(
                f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                {"status": {"nominatedNodeName": node}},
            )
        for victim in candidate.victims:
            path = f"/api/v1/namespaces/{meta.namespace_of(victim)}/pods/{meta.name_of(victim)}"
            condition = {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": f"{self.name}: preempting to accommodate a higher priority pod",
                "lastTransitionTime": meta.now_rfc3339(),
            }
            with contextlib.suppress(APIStatusError, aiohttp.ClientError, OSError, TimeoutError):
                await self._client.patch(
                    f"{path}/status",
                    {"status": {"conditions": [condition]}},
                    content_type="application/strategic-merge-patch+json",
                )
                await self._client.delete(path)
                self._events.record(
                    victim,
                    "Normal",
                    "Preempted",
                    f"Preempted by pod {meta.uid_of(pod)} on node {node}",
                )

    async def _report_unschedulable(self, pod: Object, verdict: Verdict) -> None:
        """A FailedScheduling event and the PodScheduled=False condition, written when the
        reason changes or a minute passed (a pod retried often would flood the API)."""
        message = verdict.message()
        uid = meta.uid_of(pod)
        now = time.monotonic()
        last_message, last_time = self._reported.get(uid, ("", 0.0))
        if last_message == message and now - last_time < REPORT_INTERVAL:
            return
        self._reported[uid] = (message, now)
        self._events.record(pod, "Warning", "FailedScheduling", message)
        if last_message == message:
            return
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": meta.now_rfc3339(),
        }
        with contextlib.suppress(APIStatusError, aiohttp.ClientError, OSError, TimeoutError):
            await self._client.patch(
                f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                {"status": {"conditions": [condition]}},
                content_type="application/strategic-merge-patch+json",
            )
