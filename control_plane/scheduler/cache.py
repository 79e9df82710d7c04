"""The scheduler's picture of the cluster: each node and the pods on it, including pods
it has just chosen a node for but whose binding the API has not confirmed yet (assumed),
so the next pod does not land on resources already promised."""

from __future__ import annotations

from typing import Any

from control_plane.scheduler.framework import NodeInfo, PodInfo
from ku7s.api import meta

Object = dict[str, Any]

_TERMINAL = ("Succeeded", "Failed")


class SchedulerCache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pod_node: dict[str, str] = {}  # pod uid -> node name
        self._assumed: set[str] = set()
        #: Pods whose node is not known yet (the node object arrives later).
        self._orphans: dict[str, tuple[str, PodInfo]] = {}

    def nodes(self) -> list[NodeInfo]:
        return list(self._nodes.values())

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def set_node(self, node: Object) -> None:
        name = meta.name_of(node)
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(node)
            for uid, (node_name, pod) in list(self._orphans.items()):
                if node_name == name:
                    del self._orphans[uid]
                    info.add(pod)
        else:
            info.set_node(node)

    def remove_node(self, name: str) -> None:
        info = self._nodes.pop(name, None)
        if info is not None:
            for uid, pod in info.pods.items():
                self._orphans[uid] = (name, pod)

    def set_pod(self, pod: Object) -> None:
        """A pod the API shows bound: count it where it is (until it finishes)."""
        uid = meta.uid_of(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or (pod.get("status") or {}).get("phase") in _TERMINAL:
            self.remove_pod(uid)
            return
        self._assumed.discard(uid)
        old = self._pod_node.get(uid)
        if old is not None and old != node_name:
            self.remove_pod(uid)
        self._place(uid, node_name, PodInfo.of(pod))

    def _place(self, uid: str, node_name: str, info: PodInfo) -> None:
        self._pod_node[uid] = node_name
        node = self._nodes.get(node_name)
        if node is None:
            self._orphans[uid] = (node_name, info)
        else:
            node.add(info)

    def assume(self, info: PodInfo, node_name: str) -> None:
        uid = meta.uid_of(info.pod)
        self._assumed.add(uid)
        self._place(uid, node_name, info)

    def forget(self, uid: str) -> None:
        """An assumed pod whose binding failed."""
        if uid in self._assumed:
            self._assumed.discard(uid)
            self.remove_pod(uid)

    def remove_pod(self, uid: str) -> None:
        node_name = self._pod_node.pop(uid, None)
        self._orphans.pop(uid, None)
        if node_name is not None and node_name in self._nodes:
            self._nodes[node_name].remove(uid)
