"""Network faults of hollow nodes. Hundreds of them share one container and one network
namespace, so iptables cannot tell one from another; their network is simulated where they
are, in the process that runs them: a partition makes a node silent (no heartbeats, no
reports; the control plane hears nothing, as over a cut link), latency delays each message
it sends (``to``), receives (``from``) or both, in order. A hollow node talks only to the
control plane, so that is the other side of every such fault."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ku7s.chaos.faults.network import check_latency
from ku7s.cluster.engines import ClusterEngines
from ku7s.cluster.providers.hollow_nodes import HollowNodes
from ku7s.errors import UserInputError

HOLLOW_NETWORK_KINDS = ("partition", "latency")
#: What a hollow node's network fault can have on its other side.
HOLLOW_PEERS = ("all", "control-plane")


def check_hollow_request(kind: str, target: str, direction: str) -> None:
    """Refuse, before anything is done, what cannot be simulated on hollow nodes."""
    if kind not in HOLLOW_NETWORK_KINDS:
        raise UserInputError(f"{kind} is not simulated on hollow nodes: use partition or latency")
    if target not in HOLLOW_PEERS:
        raise UserInputError(
            f"a hollow node talks only to the control plane: use --target control-plane "
            f"(or all), not {target!r}"
        )
    if kind == "partition" and direction != "both":
        raise UserInputError("a hollow node is partitioned both ways: use --direction both")


@dataclass
class HollowNetworkFault:
    kind: str
    engines: ClusterEngines
    targets: list[str] = field(default_factory=list)
    delay: float = 0.0
    jitter: float = 0.0
    direction: str = "both"
    seconds: float = 30.0
    between: str = ""

    def __post_init__(self) -> None:
        if self.kind == "latency":
            check_latency(self.delay, self.jitter)

    @property
    def reversible(self) -> bool:
        return True

    def parameters(self) -> dict[str, Any]:
        return {
            "hollow": True,
            "delay": self.delay,
            "jitter": self.jitter,
            "direction": self.direction,
            "seconds": self.seconds,
            "between": self.between,
        }

    async def inject(self) -> None:
        await asyncio.to_thread(self._apply, True)

    async def revert(self) -> None:
        await asyncio.to_thread(self._apply, False)

    def _apply(self, on: bool) -> None:
        nodes = HollowNodes(self.engines.local, self.engines.cluster)
        if self.kind == "partition":
            nodes.set_state(self.targets, "partitioned" if on else "running")
        else:
            delay, jitter = (self.delay, self.jitter) if on else (0.0, 0.0)
            nodes.set_latency(self.targets, delay, jitter, self.direction)
