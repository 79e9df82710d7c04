"""Faults of pods: ``kill-container`` kills a pod's container in the node's containerd, under
the kubelet's feet (not through the API), so the kubelet sees it die and restarts it by the
pod's restartPolicy; ``kill-pod`` deletes the pod at once (grace period 0), for its controller
to replace. Both are one-shot. Targets are ``namespace/pod``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, NotFoundError

POD_KINDS = ("kill-container", "kill-pod")


@dataclass
class PodFault:
    kind: str
    engines: ClusterEngines
    client: APIClient
    targets: list[str] = field(default_factory=list)
    #: Only this container of each pod (kill-container); all of them when empty.
    container: str = ""

    @property
    def reversible(self) -> bool:
        return False

    def parameters(self) -> dict[str, Any]:
        return {"container": self.container} if self.container else {}

    async def inject(self) -> None:
        for target in self.targets:
            namespace, _, name = target.partition("/")
            path = f"/api/v1/namespaces/{namespace}/pods/{name}"
            try:
                if self.kind == "kill-pod":
                    await self.client.delete(path, {"gracePeriodSeconds": "0"})
                    continue
                pod = await self.client.get(path)
            except APIStatusError as e:
                raise NotFoundError(f"pod {target}: {e.message}") from None
            await asyncio.to_thread(kill_containers, self.engines, pod, self.container)

    async def revert(self) -> None:
        return None


def kill_containers(engines: ClusterEngines, pod: dict[str, Any], container: str = "") -> None:
    """SIGKILL the pod's containers (or the one named) in its node's containerd."""
    target = f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"
    node = (pod.get("spec") or {}).get("nodeName")
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ids = [
        s["containerID"].split("//", 1)[1]
        for s in statuses
        if s.get("containerID") and (not container or s.get("name") == container)
    ]
    if not node or not ids:
        wanted = f"container {container!r}" if container else "a running container"
        raise Ku7sError(f"pod {target} has no {wanted} to kill")
    for container_id in ids:
        result = engines.container(node).exec_run(
            ["ctr", "-n", "k8s.io", "task", "kill", "-s", "SIGKILL", container_id]
        )
        if result.exit_code != 0:
            raise Ku7sError(f"cannot kill container {container_id[:12]} of pod {target}")
