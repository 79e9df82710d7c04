"""The pods bound to one node, as a stream of messages for its kubelet.

The feed lists the node's pods, sends each, says when the list is complete, then follows
the watch (one of the API server's shared watches, indexed by node). When the watch's
revision is compacted away it lists again and tells the kubelet which pods disappeared
meanwhile, so the kubelet's view never drifts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from control_plane.apiserver.registry import ListOptions, Registry
from ku7s.api import meta
from ku7s.rpc import node_pb2

Object = dict[str, Any]
Send = Callable[[node_pb2.ControlMessage], None]

log = logging.getLogger("node-service")


def assignment(pod: Object, runtime_handler: str = "") -> node_pb2.ControlMessage:
    return node_pb2.ControlMessage(
        pod=node_pb2.PodAssignment(pod_json=orjson.dumps(pod), runtime_handler=runtime_handler)
    )


def removal(pod: Object) -> node_pb2.ControlMessage:
    metadata = pod.get("metadata") or {}
    return node_pb2.ControlMessage(
        pod_removed=node_pb2.PodRemoved(
            namespace=metadata.get("namespace", ""),
            name=metadata.get("name", ""),
            uid=metadata.get("uid", ""),
        )
    )


class PodFeed:
    def __init__(self, registry: Registry, node_name: str, *, retry_interval: float = 0.5) -> None:
        self._registry = registry
        self._pods = registry.kinds.get("pods")
        self._selector = f"spec.nodeName={node_name}"
        self._node = node_name
        self._retry = retry_interval
        #: uid -> the pod as last sent
        self._sent: dict[str, Object] = {}
        #: RuntimeClass name -> its handler (immutable, so kept)
        self._handlers: dict[str, str] = {}

    async def run(self, send: Send) -> None:
        revision = await self._relist(send)
        send(node_pb2.ControlMessage(pods_synced=node_pb2.PodsSynced()))
        while True:
            try:
                # A watch that ends (its reader fell behind) is taken up where it ended.
                reached = await self._follow(send, revision)
                if reached == revision:
                    await asyncio.sleep(self._retry)  # it ended with nothing: no hot loop
                revision = reached
            except _Expired:
                log.info("pod watch for node %s expired; listing again", self._node)
                await asyncio.sleep(self._retry)
                revision = await self._relist(send)

    async def _relist(self, send: Send) -> str:
        # At resourceVersion 0: from the API server's copy of the pods, by node.
        page = await self._registry.list(
            self._pods, None, ListOptions(field_selector=self._selector, resource_version="0")
        )
        fresh = {meta.uid_of(pod): pod for pod in page.items}
        for uid, gone in list(self._sent.items()):
            if uid not in fresh:
                del self._sent[uid]
                send(removal(gone))
        for uid, pod in fresh.items():
            old = self._sent.get(uid)
            if old is None or meta.resource_version(old) != meta.resource_version(pod):
                self._sent[uid] = pod
                send(assignment(pod, await self._handler(pod)))
        return page.resource_version

    async def _handler(self, pod: Object) -> str:
        """The CRI handler of the pod's RuntimeClass; a class that is gone is passed on by
        name, for the runtime to refuse."""
        name = (pod.get("spec") or {}).get("runtimeClassName")
        if not name:
            return ""
        if name not in self._handlers:
            kind = self._registry.kinds.get("runtimeclasses", "node.k8s.io")
            found = await self._registry.find(kind, "", name)
            if found is None:
                return str(name)
            self._handlers[name] = str(found.get("handler", ""))
        return self._handlers[name]

    async def _follow(self, send: Send, revision: str) -> str:
        """Send the node's pod changes after revision; return the last one sent."""
        events = await self._registry.watch(
            self._pods,
            None,
            ListOptions(field_selector=self._selector, resource_version=revision),
        )
        async for event in events:
            if event.type == "ERROR":
                raise _Expired()
            uid = meta.uid_of(event.object)
            if event.type == "DELETED":
                if self._sent.pop(uid, None) is not None:
                    send(removal(event.object))
            else:
                self._sent[uid] = event.object
                send(assignment(event.object, await self._handler(event.object)))
            revision = str(event.revision)
        return revision


class _Expired(Exception):
    """The watch's starting revision was compacted."""
