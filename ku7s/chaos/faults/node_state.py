"""Faults of whole nodes, done to their containers through Docker: kill (SIGKILL to every
process), stop (SIGTERM, then SIGKILL), pause (the cgroup freezer stops every process where
it stands), each reverted by starting or unpausing the container; and the one-shot restart,
start and remove (as ``ku7s delete node``). The control plane's container is a target too,
by its name. A hollow node is set stopped (kill, stop: disconnected) or paused (connected
but silent) in the process that runs it, and running again at the revert."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ku7s.cluster.engines import ClusterEngines
from ku7s.cluster.providers.hollow_nodes import HollowNodes

#: kind -> (inject, revert) as Docker container methods; revert None for one-shot kinds.
ACTIONS: dict[str, tuple[str, str | None]] = {
    "kill": ("kill", "start"),
    "stop": ("stop", "start"),
    "pause": ("pause", "unpause"),
    "restart": ("restart", None),
    "start": ("start", None),
    "remove": ("remove", None),
}
#: What each action makes of a hollow node.
HOLLOW_STATES = {
    "kill": "stopped",
    "stop": "stopped",
    "pause": "paused",
    "restart": "running",
    "start": "running",
}


@dataclass
class NodeStateFault:
    kind: str
    engines: ClusterEngines
    targets: list[str] = field(default_factory=list)

    @property
    def reversible(self) -> bool:
        return ACTIONS[self.kind][1] is not None

    def parameters(self) -> dict[str, Any]:
        return {}

    async def inject(self) -> None:
        await asyncio.to_thread(self._inject)

    async def revert(self) -> None:
        await asyncio.to_thread(self._revert)

    def _split(self) -> tuple[list[str], list[str]]:
        """(node containers, hollow nodes) among the targets."""
        hollow = self.engines.hollow_nodes()
        return [t for t in self.targets if t not in hollow], [
            t for t in self.targets if t in hollow
        ]

    def _inject(self) -> None:
        action = ACTIONS[self.kind][0]
        if action == "remove":  # as `ku7s delete node`: the container and the Node go
            for name in self.targets:
                self.engines.remove_node(name)
            return
        real, hollow = self._split()
        if hollow:
            nodes = HollowNodes(self.engines.local, self.engines.cluster)
            if action == "restart":
                nodes.set_state(hollow, "stopped")
            nodes.set_state(hollow, HOLLOW_STATES[action])
        for container in (self.engines.container(name) for name in real):
            if action == "stop":
                container.stop(timeout=5)
            else:
                getattr(container, action)()

    def _revert(self) -> None:
        action = ACTIONS[self.kind][1]
        if action is None:
            return
        real, hollow = self._split()
        if hollow:
            HollowNodes(self.engines.local, self.engines.cluster).set_state(hollow, "running")
        for container in (self.engines.container(name) for name in real):
            container.reload()
            # Revert what is still as the fault left it; a node someone started meanwhile
            # is left alone.
            if action == "unpause" and container.status == "paused":
                container.unpause()
            elif action == "start" and container.status in ("exited", "created"):
                container.start()
