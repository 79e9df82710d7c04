"""Network faults between two sides, as iptables rules: ``partition`` drops every packet
one way (``--direction to``: from the first side to the other; ``from``: back) or both ways,
``loss`` drops a percentage of them at random.

Packets are dropped where they arrive (INPUT and FORWARD of the receiving container), so the
sender sees a silent loss, as on a real network, rather than an error from its own kernel.
Only when the receiver is the host, which ku7s does not touch, are they dropped on their way
out of the sending container. A side is a set of containers with their addresses (node and
pod CIDR), and the host (the cluster network's gateway).

Each fault's rules live in a chain of its own, ``KU7S-CHAOS-<id>``, so reverting removes
exactly them. A timer started beside the rules removes them at the end of the duration even
if the run that made them died.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from ku7s.chaos.faults.timer import apply_timed, undo_timed
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import UserInputError

NETWORK_KINDS = ("partition", "loss")
DIRECTIONS = ("to", "from", "both")
HOOKS = ("INPUT", "OUTPUT", "FORWARD")


@dataclass
class NetworkFault:
    kind: str
    provider: DockerProvider
    #: The containers that get rules.
    targets: list[str] = field(default_factory=list)
    #: container -> the matches it drops: "-s ADDRESS" (arriving) or "-d ADDRESS" (leaving).
    drops: dict[str, list[str]] = field(default_factory=dict)
    #: Percent of packets dropped (loss).
    percent: float = 100.0
    seconds: float = 30.0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    #: The two sides, for people: "worker -> worker2".
    between: str = ""

    def __post_init__(self) -> None:
        if self.kind == "loss" and not 0 < self.percent <= 100:
            raise UserInputError(f"invalid --percent {self.percent:g}: expected 0 to 100")
        if not any(self.drops.values()):
            raise UserInputError("the other side of the fault has no address")

    @property
    def chain(self) -> str:
        return f"KU7S-CHAOS-{self.tag}"

    @property
    def reversible(self) -> bool:
        return True

    def parameters(self) -> dict[str, Any]:
        return {
            "drops": self.drops,
            "between": self.between,
            "percent": self.percent,
            "seconds": self.seconds,
            "tag": self.tag,
        }

    def rules(self, container: str) -> list[str]:
        """The iptables commands that inject the fault in one container, in order."""
        drop = "-j DROP"
        if self.kind == "loss":
            drop = f"-m statistic --mode random --probability {self.percent / 100:.4f} -j DROP"
        matches = self.drops.get(container, [])
        commands = [f"iptables -w -N {self.chain}"]
        commands += [f"iptables -w -A {self.chain} {match} {drop}" for match in matches]
        hooks = ["INPUT", "FORWARD"]
        if any(m.startswith("-d ") for m in matches):
            hooks.append("OUTPUT")
        commands += [f"iptables -w -I {hook} -j {self.chain}" for hook in hooks]
        return commands

    def undo(self) -> str:
        """One shell line that removes the fault's rules, whatever is left of them."""
        parts = [f"iptables -w -D {hook} -j {self.chain} 2>/dev/null" for hook in HOOKS]
        parts += [
            f"iptables -w -F {self.chain} 2>/dev/null",
            f"iptables -w -X {self.chain} 2>/dev/null",
        ]
        return "; ".join(parts) + "; true"

    def _inject(self) -> None:
        for name in self.targets:
            container = self.provider.client.containers.get(name)
            what = f"add the {self.kind} rules"
            apply_timed(container, self.rules(name), self.undo(), self.seconds, self.chain, what)

    def _revert(self) -> None:
        undo_timed(self.provider, self.targets, self.undo(), self.chain)

    async def inject(self) -> None:
        await asyncio.to_thread(self._inject)

    async def revert(self) -> None:
        await asyncio.to_thread(self._revert)


@dataclass(frozen=True)
class Side:
    """One side of a network fault: containers with their addresses, and maybe the host."""

    containers: dict[str, list[str]]
    host: str = ""

    @property
    def name(self) -> str:
        return ",".join([*self.containers, *(["host"] if self.host else [])])

    @property
    def addresses(self) -> list[str]:
        found = [a for addresses in self.containers.values() for a in addresses]
        return found + ([self.host] if self.host else [])


def plan_drops(first: Side, other: Side, direction: str) -> dict[str, list[str]]:
    """Which container drops what, so that packets of the given direction are lost."""
    if direction not in DIRECTIONS:
        raise UserInputError(f"invalid --direction {direction!r}: expected to, from or both")
    drops: dict[str, list[str]] = {}

    def lose(sender: Side, receiver: Side) -> None:
        for container in receiver.containers:
            drops.setdefault(container, []).extend(f"-s {a}" for a in sender.addresses)
        if receiver.host:
            for container in sender.containers:
                drops.setdefault(container, []).append(f"-d {receiver.host}")

    if direction in ("to", "both"):
        lose(first, other)
    if direction in ("from", "both"):
        lose(other, first)
    return {c: sorted(set(m)) for c, m in drops.items() if m}
