"""Where a pod's cgroup goes: under this node container's own cgroup, so that the node's
cpu and memory limits bound its pods, laid out as upstream (kubepods/<qos>/pod<uid>).

With the cgroupfs driver a cgroup parent is a path from the hierarchy's root. The node
container shares the host's hierarchy (cgroup v1 here), so the node's own path comes from
/proc/self/cgroup.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

QOS_DIRS = {"Guaranteed": "", "Burstable": "burstable", "BestEffort": "besteffort"}


def own_cgroup(proc_self_cgroup: str) -> str:
    """This process's cgroup path, from the memory controller's line (v1) or the unified
    line (v2); "/" when neither is there."""
    unified = ""
    for line in proc_self_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path or "/"
        if controllers == "":
            unified = path
    return unified or "/"


class PodCgroups:
    def __init__(self, node_cgroup: str, hierarchy: Path = Path("/sys/fs/cgroup")) -> None:
        self._root = node_cgroup
        self._hierarchy = hierarchy

    @property
    def node_cgroup(self) -> str:
        return self._root

    @classmethod
    def of_this_process(cls) -> PodCgroups:
        return cls(own_cgroup(Path("/proc/self/cgroup").read_text()))

    def parent(self, pod_uid: str, qos_class: str) -> str:
        """The cgroup parent the runtime puts the pod's sandbox and containers under."""
        qos = QOS_DIRS.get(qos_class, "besteffort")
        parts = (self._root.strip("/"), "kubepods", qos, f"pod{pod_uid}")
        return "/" + "/".join(p for p in parts if p)

    def remove(self, pod_uid: str, qos_class: str) -> None:
        """Remove the pod's (empty) cgroup from every controller; the runtime removes only
        the containers' own."""
        relative = self.parent(pod_uid, qos_class).lstrip("/")
        with contextlib.suppress(OSError):
            controllers = os.listdir(self._hierarchy)
            for controller in controllers:
                path = self._hierarchy / controller / relative
                if path.is_dir():
                    with contextlib.suppress(OSError):
                        path.rmdir()
