"""Network faults between two sides, as iptables rules: ``partition`` drops every packet
one way (``--direction to``: from the first side to the other; ``from``: back) or both ways,
``loss`` drops a percentage of them at random, ``latency`` holds each packet for a delay give
or take a jitter.

Latency uses the kernel's ``netem`` on the senders' eth0 where every sender is a container
whose kernel has it (netem.py). Elsewhere (this kernel has no netem, and the host is never
touched) it is made in user space: the rules send the packets to an NFQUEUE, and
``node_image.packet_delay`` in the receiving container holds them and lets them go on later
(``--queue-bypass``: if that process is gone, packets pass undelayed rather than being lost).

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

from ku7s.chaos.faults.netem import has_netem, netem_commands, netem_undo
from ku7s.chaos.faults.timer import apply_timed, exec_output, undo_timed
from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, UserInputError

NETWORK_KINDS = ("partition", "loss", "latency")
DIRECTIONS = ("to", "from", "both")
#: The mark node_image.packet_delay puts on packets it lets go (kept in step with it; the
#: CLI does not import the node image's code).
RELEASED_MARK = 0x20000000
#: The longest latency: beyond it, TCP and the kubelet's leases give up anyway.
MAX_DELAY = 60.0


def check_latency(delay: float, jitter: float) -> None:
    if not (0 < delay <= MAX_DELAY and jitter >= 0):
        raise UserInputError(
            f"invalid --delay {delay:g}s: expected more than 0 and at most {MAX_DELAY:g}s, "
            "with a jitter of 0 or more"
        )


@dataclass
class NetworkFault:
    kind: str
    engines: ClusterEngines
    #: The containers that get rules.
    targets: list[str] = field(default_factory=list)
    #: container -> the matches it drops: "-s ADDRESS" (arriving) or "-d ADDRESS" (leaving).
    drops: dict[str, list[str]] = field(default_factory=dict)
    #: Percent of packets dropped (loss).
    percent: float = 100.0
    #: Seconds each packet is held, give or take the jitter (latency).
    delay: float = 0.0
    jitter: float = 0.0
    #: sender container -> the addresses its traffic is delayed to, for netem; empty when
    #: the host is among the senders.
    egress: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 30.0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    #: The two sides, for people: "worker -> worker2".
    between: str = ""

    def __post_init__(self) -> None:
        if self.kind == "loss" and not 0 < self.percent <= 100:
            raise UserInputError(f"invalid --percent {self.percent:g}: expected 0 to 100")
        if self.kind == "latency":
            check_latency(self.delay, self.jitter)
        if not any(self.drops.values()):
            raise UserInputError("the other side of the fault has no address")

    @property
    def chain(self) -> str:
        return f"KU7S-CHAOS-{self.tag}"

    @property
    def reversible(self) -> bool:
        return True

    @property
    def queue(self) -> int:
        """The NFQUEUE of a latency fault, told apart by its tag (queues are per container)."""
        return 1000 + int(self.tag, 16) % 60000

    def parameters(self) -> dict[str, Any]:
        return {
            "drops": self.drops,
            "between": self.between,
            "percent": self.percent,
            "delay": self.delay,
            "jitter": self.jitter,
            "egress": self.egress,
            "seconds": self.seconds,
            "tag": self.tag,
        }

    @property
    def _iptables(self) -> str:
        """Latency holds packets in the raw table, before connection tracking: a packet
        that arrived behind a held one of the same flow would otherwise make a second
        conntrack entry, which loses the race to the first and is dropped."""
        return "iptables -w -t raw" if self.kind == "latency" else "iptables -w"

    def _hooks(self, leaving: bool) -> list[str]:
        arriving = ["PREROUTING"] if self.kind == "latency" else ["INPUT", "FORWARD"]
        return arriving + (["OUTPUT"] if leaving else [])

    def rules(self, container: str) -> list[str]:
        """The iptables commands that inject the fault in one container, in order."""
        drop = "-j DROP"
        if self.kind == "loss":
            drop = f"-m statistic --mode random --probability {self.percent / 100:.4f} -j DROP"
        if self.kind == "latency":
            drop = (
                f"-m mark ! --mark {RELEASED_MARK:#x}/{RELEASED_MARK:#x} "
                f"-j NFQUEUE --queue-num {self.queue} --queue-bypass"
            )
        matches = self.drops.get(container, [])
        commands = [f"{self._iptables} -N {self.chain}"]
        commands += [f"{self._iptables} -A {self.chain} {match} {drop}" for match in matches]
        hooks = self._hooks(leaving=any(m.startswith("-d ") for m in matches))
        commands += [f"{self._iptables} -I {hook} -j {self.chain}" for hook in hooks]
        return commands

    def undo(self) -> str:
        """One shell line that removes the fault's rules, whatever is left of them."""
        iptables = self._iptables
        parts = [
            f"{iptables} -D {hook} -j {self.chain} 2>/dev/null"
            for hook in self._hooks(leaving=True)
        ]
        parts += [
            f"{iptables} -F {self.chain} 2>/dev/null",
            f"{iptables} -X {self.chain} 2>/dev/null",
        ]
        if self.kind == "latency":
            # Once the rules are gone; the brackets keep pkill off this shell's own line.
            parts += [f"pkill -f '[p]acket_delay .*{self.chain}'", netem_undo()]
        return "; ".join(parts) + "; true"

    def delayer(self) -> list[str]:
        """The command that starts the process holding a latency fault's packets."""
        return [
            "python3",
            "-m",
            "node_image.packet_delay",
            f"--queue={self.queue}",
            f"--latency={self.delay:.4f}",
            f"--jitter={self.jitter:.4f}",
            f"--seconds={self.seconds:.1f}",
            self.chain,
        ]

    def _inject(self) -> None:
        """In every container, or (on a failure in one) in none."""
        try:
            if self.kind == "latency" and self._netem_everywhere():
                for name, destinations in self.egress.items():
                    container = self.engines.container(name)
                    commands = netem_commands(destinations, self.delay, self.jitter)
                    what = "delay packets with netem"
                    apply_timed(container, commands, self.undo(), self.seconds, self.chain, what)
                return
            for name in self.drops:
                self._inject_into(name)
        except Exception:
            self._revert()
            raise

    def _netem_everywhere(self) -> bool:
        get = self.engines.container
        return bool(self.egress) and all(has_netem(get(name)) for name in self.egress)

    def _inject_into(self, name: str) -> None:
        container = self.engines.container(name)
        if self.kind == "latency":
            started = container.exec_run(self.delayer())
            if started.exit_code != 0:
                raise Ku7sError(f"cannot delay packets on {name}: {exec_output(started)}")
        what = f"add the {self.kind} rules"
        apply_timed(container, self.rules(name), self.undo(), self.seconds, self.chain, what)

    def _revert(self) -> None:
        undo_timed(self.engines, self.targets, self.undo(), self.chain)

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


def plan_egress(first: Side, other: Side, direction: str) -> dict[str, list[str]]:
    """Which containers send to which addresses in the given direction, for faults made on
    the way out; empty if the host sends, since nothing is done on the host."""
    egress: dict[str, list[str]] = {}
    for sender, receiver, way in ((first, other, "to"), (other, first, "from")):
        if direction not in (way, "both"):
            continue
        if sender.host:
            return {}
        for container in sender.containers:
            egress.setdefault(container, []).extend(receiver.addresses)
    return {c: sorted(set(a)) for c, a in egress.items() if a}
