"""Faults of one component: a process of the control plane (etcd, kube-apiserver,
kube-scheduler, kube-controller-manager, cloud-controller-manager, cluster-dns) or of a node
(containerd, kubelet, kube-proxy). ``kill-component`` sends SIGKILL to its process group and
lets the node's supervisor restart it, as a crash would; ``stop-component`` freezes it
(SIGSTOP) for the duration and resumes it (SIGCONT). The process is found by the pid file
its supervisor keeps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, UserInputError

CONTROL_PLANE_COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-scheduler",
    "kube-controller-manager",
    "cloud-controller-manager",
    "cluster-dns",
)
NODE_COMPONENTS = ("containerd", "kubelet", "kube-proxy")
PID_DIR = "/run/ku7s"

#: kind -> (signal that injects, signal that reverts or None)
SIGNALS: dict[str, tuple[str, str | None]] = {
    "kill-component": ("KILL", None),
    "stop-component": ("STOP", "CONT"),
}


def check_component(name: str) -> None:
    if name not in CONTROL_PLANE_COMPONENTS + NODE_COMPONENTS:
        known = ", ".join(CONTROL_PLANE_COMPONENTS + NODE_COMPONENTS)
        raise UserInputError(f"unknown component {name!r}; known: {known}")


@dataclass
class ComponentFault:
    kind: str
    engines: ClusterEngines
    component: str
    #: The containers whose component is hit: nodes, or the control plane's.
    targets: list[str] = field(default_factory=list)

    @property
    def reversible(self) -> bool:
        return SIGNALS[self.kind][1] is not None

    def parameters(self) -> dict[str, Any]:
        return {"component": self.component}

    def _signal(self, signal: str) -> None:
        """Signal the component's whole process group in each target container."""
        pid_file = f"{PID_DIR}/{self.component}.pid"
        script = f"import os, signal\nos.killpg(int(open({pid_file!r}).read()), signal.SIG{signal})"
        for container in self.targets:
            result = self.engines.container(container).exec_run(["python3", "-c", script])
            if result.exit_code != 0:
                output = result.output if isinstance(result.output, bytes) else b""
                last = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
                raise Ku7sError(
                    f"cannot signal {self.component} on {container}: it is not running ({last[0]})"
                )

    async def inject(self) -> None:
        await asyncio.to_thread(self._signal, SIGNALS[self.kind][0])

    async def revert(self) -> None:
        resume = SIGNALS[self.kind][1]
        if resume is not None:
            await asyncio.to_thread(self._signal, resume)
