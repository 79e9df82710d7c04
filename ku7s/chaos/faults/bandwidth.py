"""``bandwidth``: traffic from the first side to the other is held to a rate, by an HTB
class on the sending containers' eth0 (the kernel here has HTB; pods' traffic leaves through
eth0 too); other traffic keeps an unlimited class. One bandwidth fault per container at a
time: it owns the root qdisc."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from ku7s.chaos.faults.timer import apply_timed, undo_timed
from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, UserInputError

_RATE = re.compile(r"^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$")
_BITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}
DEVICE = "eth0"
BANDWIDTH_KINDS = ("bandwidth",)


def egress_class_commands(destinations: list[str], shape: str, leaf: str = "") -> list[str]:
    """An HTB root on eth0 whose class 1:10, shaped as given (and with a leaf qdisc such as
    netem's, if any), takes the traffic to the destinations; the rest keeps an unlimited
    class. The root is the device's only one: one such fault per container at a time."""
    commands = [
        f"tc qdisc add dev {DEVICE} root handle 1: htb default 1",
        f"tc class add dev {DEVICE} parent 1: classid 1:1 htb rate 100gbit",
        f"tc class add dev {DEVICE} parent 1: classid 1:10 htb {shape}",
    ]
    if leaf:
        commands.append(f"tc qdisc add dev {DEVICE} parent 1:10 handle 10: {leaf}")
    commands += [
        f"tc filter add dev {DEVICE} parent 1: protocol ip prio 1 u32 match ip dst "
        f"{destination} flowid 1:10"
        for destination in destinations
    ]
    return commands


def rate_bits(rate: str) -> float:
    match = _RATE.match(rate.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise UserInputError(f"invalid --rate {rate!r}: expected a rate such as 500kbit or 10mbit")
    return float(match.group(1)) * _BITS[match.group(2)]


@dataclass
class BandwidthFault:
    kind: str
    engines: ClusterEngines
    #: The sending containers.
    targets: list[str] = field(default_factory=list)
    #: The other side's addresses and networks.
    destinations: list[str] = field(default_factory=list)
    rate: str = "1mbit"
    seconds: float = 30.0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    between: str = ""

    def __post_init__(self) -> None:
        rate_bits(self.rate)
        if not self.destinations:
            raise UserInputError("the other side of the fault has no address")

    @property
    def reversible(self) -> bool:
        return True

    def parameters(self) -> dict[str, Any]:
        return {
            "destinations": self.destinations,
            "rate": self.rate,
            "seconds": self.seconds,
            "tag": self.tag,
            "between": self.between,
        }

    def commands(self) -> list[str]:
        # A burst of 10 ms at the rate, and at least a few full frames.
        burst = max(int(rate_bits(self.rate) / 8 / 100), 16 * 1024)
        return egress_class_commands(self.destinations, f"rate {self.rate} burst {burst}")

    def undo(self) -> str:
        return f"tc qdisc del dev {DEVICE} root 2>/dev/null; true"

    @property
    def marker(self) -> str:
        return f"KU7S-CHAOS-{self.tag}"

    def _inject(self) -> None:
        for name in self.targets:
            container = self.engines.container(name)
            current = container.exec_run(["tc", "qdisc", "show", "dev", DEVICE, "root"]).output
            if b"htb 1:" in (current if isinstance(current, bytes) else b""):
                raise Ku7sError(f"a bandwidth or latency fault is already in force on {name}")
            apply_timed(
                container,
                self.commands(),
                self.undo(),
                self.seconds,
                self.marker,
                "limit the bandwidth",
            )

    def _revert(self) -> None:
        undo_timed(self.engines, self.targets, self.undo(), self.marker)

    async def inject(self) -> None:
        await asyncio.to_thread(self._inject)

    async def revert(self) -> None:
        await asyncio.to_thread(self._revert)
