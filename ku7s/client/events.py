"""Events as components report them (core/v1): one object per distinct happening, its
count raised when the same thing happens again, sent in the background so that recording
never slows the component down."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("events")


def object_reference(obj: Object) -> Object:
    m = obj.get("metadata") or {}
    reference: Object = {
        "kind": obj.get("kind", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
    }
    if m.get("namespace"):
        reference["namespace"] = m["namespace"]
    if m.get("resourceVersion"):
        reference["resourceVersion"] = m["resourceVersion"]
    return reference


class EventRecorder:
    def __init__(
        self, client: APIClient, component: str, *, host: str = "", remembered: int = 1024
    ) -> None:
        self._client = client
        self._component = component
        self._host = host
        self._series: collections.OrderedDict[tuple[str, str, str, str], tuple[str, str, int]]
        self._series = collections.OrderedDict()
        self._remembered = remembered
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, obj: Object, kind: str, reason: str, message: str) -> None:
        """Send the event soon; failures are logged, never raised."""
        task = asyncio.get_running_loop().create_task(self._send(obj, kind, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, obj: Object, kind: str, reason: str, message: str) -> None:
        namespace = meta.namespace_of(obj) or "default"
        now = meta.now_rfc3339()
        key = (meta.uid_of(obj), kind, reason, message)
        try:
            known = self._series.get(key)
            if known is not None:
                event_namespace, name, count = known
                await self._client.patch(
                    f"/api/v1/namespaces/{event_namespace}/events/{name}",
                    {"count": count + 1, "lastTimestamp": now},
                )
                self._series[key] = (event_namespace, name, count + 1)
                self._series.move_to_end(key)
                return
            name = f"{meta.name_of(obj)}.{time.time_ns():x}"
            source: Object = {"component": self._component}
            if self._host:
                source["host"] = self._host
            await self._client.create(
                f"/api/v1/namespaces/{namespace}/events",
                {
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": object_reference(obj),
                    "reason": reason,
                    "message": message,
                    "type": kind,
                    "source": source,
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "reportingComponent": self._component,
                    "reportingInstance": self._host or self._component,
                },
            )
            self._series[key] = (namespace, name, 1)
            while len(self._series) > self._remembered:
                self._series.popitem(last=False)
        except (APIStatusError, OSError, TimeoutError) as e:
            self._series.pop(key, None)
            log.debug("could not record event %s for %s: %s", reason, meta.name_of(obj), e)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
