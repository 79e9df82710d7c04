"""What the pod workers tell the control plane, queued while no session is open.

Statuses are kept as the latest per pod (an older one is worthless once a newer exists);
events and terminations are kept in order, a bounded number of events.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

import orjson

from ku7s.rpc import node_pb2

Object = dict[str, Any]


def _pod_ref(pod: Object) -> tuple[str, str, str]:
    m = pod["metadata"]
    return m.get("namespace", ""), m.get("name", ""), m.get("uid", "")


class Reporter:
    def __init__(
        self, *, max_events: int = 1000, on_phase: Callable[[str, str], None] | None = None
    ) -> None:
        self._on_phase = on_phase
        self._statuses: dict[str, node_pb2.NodeMessage] = {}
        self._ordered: collections.deque[node_pb2.NodeMessage] = collections.deque()
        self._max_events = max_events
        self._pending = asyncio.Event()

    def status(self, pod: Object, status: Object) -> None:
        namespace, name, uid = _pod_ref(pod)
        if self._on_phase is not None:
            self._on_phase(uid, str(status.get("phase", "")))
        self._statuses[uid] = node_pb2.NodeMessage(
            pod_status=node_pb2.PodStatusReport(
                namespace=namespace, name=name, uid=uid, status_json=orjson.dumps(status)
            )
        )
        self._pending.set()

    def event(
        self, pod: Object, kind: str, reason: str, message: str, container: str | None = None
    ) -> None:
        namespace, name, uid = _pod_ref(pod)
        field_path = ""
        if container is not None:
            spec = pod.get("spec") or {}
            inits = {c.get("name") for c in spec.get("initContainers") or []}
            group = "initContainers" if container in inits else "containers"
            field_path = f"spec.{group}{{{container}}}"
        events = [m for m in self._ordered if m.WhichOneof("kind") == "event"]
        if len(events) >= self._max_events:
            self._ordered.remove(events[0])
        self._ordered.append(
            node_pb2.NodeMessage(
                event=node_pb2.EventReport(
                    namespace=namespace,
                    pod_name=name,
                    pod_uid=uid,
                    field_path=field_path,
                    type=kind,
                    reason=reason,
                    message=message,
                )
            )
        )
        self._pending.set()

    def terminated(self, pod: Object) -> None:
        namespace, name, uid = _pod_ref(pod)
        # The final status goes first, then word that the pod's containers are gone.
        final = self._statuses.pop(uid, None)
        if final is not None:
            self._ordered.append(final)
        self._ordered.append(
            node_pb2.NodeMessage(
                pod_terminated=node_pb2.PodTerminated(namespace=namespace, name=name, uid=uid)
            )
        )
        self._pending.set()

    async def next_batch(self) -> list[node_pb2.NodeMessage]:
        """Wait for something to send; take all of it."""
        await self._pending.wait()
        self._pending.clear()
        batch = list(self._ordered) + list(self._statuses.values())
        self._ordered.clear()
        self._statuses.clear()
        return batch

    def put_back(self, batch: list[node_pb2.NodeMessage]) -> None:
        """A session ended before the batch went out: keep it, in its order, ahead of what
        came since (a status with a newer one queued is dropped)."""
        kept = [
            m
            for m in batch
            if not (m.WhichOneof("kind") == "pod_status" and m.pod_status.uid in self._statuses)
        ]
        self._ordered.extendleft(reversed(kept))
        if kept:
            self._pending.set()
