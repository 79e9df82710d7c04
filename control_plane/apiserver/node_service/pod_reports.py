"""What a kubelet reports about its pods, written to the API: statuses, events, and the
confirmation that a deleting pod's containers have stopped.

A node may only report on pods bound to it; anything else is dropped with a log line.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

import orjson

from control_plane.apiserver import errors
from control_plane.apiserver.registry import DeleteOptions, Registry
from ku7s.api import meta
from ku7s.api.meta import HOLLOW_CONDITION
from ku7s.rpc import node_pb2

Object = dict[str, Any]

log = logging.getLogger("node-service")

#: The pod conditions the kubelet owns (a hollow node's also says the pod runs on paper);
#: others (PodScheduled, DisruptionTarget, ...) are kept as the API has them.
KUBELET_CONDITIONS = frozenset(
    {"PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", HOLLOW_CONDITION}
)
_TERMINAL = ("Succeeded", "Failed")


def merged_status(current: Object, reported: Object) -> Object:
    """The pod's new status: the kubelet's view, with the conditions it does not own kept
    and a finished pod never brought back to life."""
    status = dict(current.get("status") or {})
    if status.get("phase") in _TERMINAL and reported.get("phase") != status.get("phase"):
        return status
    kept = [c for c in status.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    owned = [c for c in reported.get("conditions") or [] if c.get("type") in KUBELET_CONDITIONS]
    new = {**status, **reported}
    new["conditions"] = kept + owned
    if "qosClass" in status:
        new["qosClass"] = status["qosClass"]
    return new


class PodReports:
    def __init__(
        self, registry: Registry, node_name: str, *, remembered_events: int = 1024
    ) -> None:
        self._registry = registry
        self._node = node_name
        self._pods = registry.kinds.get("pods")
        self._events = registry.kinds.get("events")
        #: (pod uid, field path, reason, message) -> name of the Event counting them
        self._series: collections.OrderedDict[tuple[str, str, str, str], str] = (
            collections.OrderedDict()
        )
        self._remembered = remembered_events

    async def _own_pod(self, namespace: str, name: str, uid: str) -> Object | None:
        pod = await self._registry.find(self._pods, namespace, name)
        if pod is None or meta.uid_of(pod) != uid:
            return None
        if (pod.get("spec") or {}).get("nodeName") != self._node:
            log.warning(
                "node %s reported on pod %s/%s bound elsewhere", self._node, namespace, name
            )
            return None
        return pod

    async def status(self, report: node_pb2.PodStatusReport) -> None:
        if await self._own_pod(report.namespace, report.name, report.uid) is None:
            return
        reported = orjson.loads(report.status_json)

        def change(pod: Object) -> Object:
            if meta.uid_of(pod) != report.uid:
                raise errors.conflict("pods", report.name)
            pod["status"] = merged_status(pod, reported)
            return pod

        try:
            await self._registry.mutate(
                self._pods, report.namespace, report.name, change, subresource="status"
            )
        except errors.APIError as e:
            if e.code not in (404, 409):
                raise

    async def terminated(self, message: node_pb2.PodTerminated) -> None:
        pod = await self._own_pod(message.namespace, message.name, message.uid)
        if pod is None or not pod["metadata"].get("deletionTimestamp"):
            return
        try:
            await self._registry.delete(
                self._pods,
                message.namespace,
                message.name,
                DeleteOptions(grace_period_seconds=0, precondition_uid=message.uid),
            )
        except errors.APIError as e:
            if e.code not in (404, 409):
                raise

    async def event(self, report: node_pb2.EventReport) -> None:
        now = meta.now_rfc3339()
        series = (report.pod_uid, report.field_path, report.reason, report.message)
        if (name := self._series.get(series)) is not None:
            self._series.move_to_end(series)

            def again(event: Object) -> Object:
                event["count"] = int(event.get("count") or 1) + 1
                event["lastTimestamp"] = now
                return event

            try:
                await self._registry.mutate(self._events, report.namespace, name, again)
                return
            except errors.APIError as e:
                if e.code != 404:
                    raise
        name = f"{report.pod_name}.{time.time_ns():x}"
        involved: Object = {
            "kind": "Pod",
            "apiVersion": "v1",
            "namespace": report.namespace,
            "name": report.pod_name,
            "uid": report.pod_uid,
        }
        if report.field_path:
            involved["fieldPath"] = report.field_path
        event = {
            "metadata": {"name": name, "namespace": report.namespace},
            "involvedObject": involved,
            "reason": report.reason,
            "message": report.message,
            "type": report.type or "Normal",
            "source": {"component": "kubelet", "host": self._node},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": "kubelet",
            "reportingInstance": self._node,
        }
        try:
            await self._registry.create(self._events, report.namespace, event)
        except errors.APIError as e:
            if e.code not in (404, 403):  # the namespace may be going away
                raise
            return
        self._series[series] = name
        while len(self._series) > self._remembered:
            self._series.popitem(last=False)
