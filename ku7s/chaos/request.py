"""A fault as asked for (by the CLI or by a step of a scenario), and its preparation: the
targets resolved and the fault built, before anything is injected, so that every mistake
is reported first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ku7s.chaos.faults.bandwidth import BANDWIDTH_KINDS
from ku7s.chaos.faults.base import Fault
from ku7s.chaos.faults.component import SIGNALS
from ku7s.chaos.faults.drain import DRAIN_KINDS
from ku7s.chaos.faults.hollow_network import check_hollow_request
from ku7s.chaos.faults.network import NETWORK_KINDS, plan_drops, plan_egress
from ku7s.chaos.faults.node_state import ACTIONS
from ku7s.chaos.faults.pod import POD_KINDS
from ku7s.chaos.faults.pressure import PRESSURE_KINDS
from ku7s.chaos.faults.volume import VOLUME_KINDS
from ku7s.chaos.runner import Chaos, build_fault
from ku7s.chaos.selection import Selection
from ku7s.chaos.targets import network_sides, resolve_pods, resolve_targets
from ku7s.durations import parse_duration
from ku7s.errors import UserInputError

#: Every fault kind, and the options of its own it takes.
KINDS: dict[str, tuple[str, ...]] = {
    **{kind: () for kind in ACTIONS},
    **{kind: () for kind in SIGNALS},
    "kill-container": ("container",),
    "kill-pod": (),
    "drain": (),
    "partition": ("target", "direction"),
    "bandwidth": ("target", "rate"),
    "loss": ("target", "direction", "percent"),
    "latency": ("target", "direction", "delay", "jitter"),
    "cpu-burn": ("workers",),
    "memory-fill": ("size",),
    "detach-volume": (),
}
assert set(KINDS) == {
    *ACTIONS,
    *SIGNALS,
    *POD_KINDS,
    *DRAIN_KINDS,
    *NETWORK_KINDS,
    *PRESSURE_KINDS,
    *BANDWIDTH_KINDS,
    *VOLUME_KINDS,
}
DEFAULT_DIRECTION = {"partition": "both", "loss": "to", "latency": "to"}


@dataclass
class FaultRequest:
    kind: str
    targets: list[str] = field(default_factory=list)
    labels: str = ""
    selection: Selection = field(default_factory=Selection)
    seconds: float = 30.0
    component: str = ""
    namespace: str = "default"
    #: The kind's own options (see KINDS).
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserInputError(f"unknown fault {self.kind!r}; known: {', '.join(KINDS)}")
        unknown = sorted(set(self.options) - set(KINDS[self.kind]))
        if unknown:
            raise UserInputError(f"fault {self.kind} takes no option {unknown[0]!r}")


def parse_latency(option: str, text: str) -> float:
    """A delay or jitter: a duration, where the jitter may also be none."""
    if option == "jitter" and text.strip() in ("0", "0s", "0ms"):
        return 0.0
    try:
        return parse_duration(text)
    except UserInputError:
        raise UserInputError(
            f"invalid --{option} {text!r}: expected a duration such as 200ms or 1s"
        ) from None


async def prepare(chaos: Chaos, cluster: str, request: FaultRequest) -> Fault:
    """Resolve the request's targets and build its fault; inject nothing."""
    kind = request.kind
    parameters: dict[str, Any] = {k: v for k, v in request.options.items() if v not in (None, "")}
    parameters["seconds"] = request.seconds
    if request.component:
        parameters["component"] = request.component
    if kind in POD_KINDS or kind in VOLUME_KINDS:
        chosen = await resolve_pods(
            chaos.client,
            request.namespace,
            request.targets,
            request.labels,
            request.selection,
            ("pods", "pod") if kind in POD_KINDS else ("persistentvolumeclaims", "claim"),
        )
    else:
        chosen = await resolve_targets(
            chaos.engines,
            chaos.client,
            cluster,
            request.component,
            request.targets,
            request.labels,
            request.selection,
        )
    for option in ("delay", "jitter"):
        if isinstance(parameters.get(option), str):
            parameters[option] = parse_latency(option, parameters[option])
    if kind in NETWORK_KINDS or kind in BANDWIDTH_KINDS:
        hollow = await asyncio.to_thread(chaos.engines.hollow_nodes)
        if set(chosen) & hollow:
            return _hollow_network_fault(kind, chaos, chosen, hollow, parameters)
    if kind in NETWORK_KINDS:
        first, other = await network_sides(
            chaos.engines, chaos.client, cluster, chosen, str(parameters.pop("target", "all"))
        )
        direction = str(parameters.pop("direction", DEFAULT_DIRECTION[kind]))
        parameters["drops"] = plan_drops(first, other, direction)
        if kind == "latency":
            parameters["egress"] = plan_egress(first, other, direction)
        arrow = {"to": "->", "from": "<-", "both": "<->"}[direction]
        parameters["between"] = f"{','.join(chosen)} {arrow} {other.name}"
    if kind in BANDWIDTH_KINDS:
        first, other = await network_sides(
            chaos.engines, chaos.client, cluster, chosen, str(parameters.pop("target", "all"))
        )
        parameters["destinations"] = other.addresses
        parameters["between"] = f"{','.join(chosen)} -> {other.name}"
    return build_fault(kind, chaos.engines, chaos.client, chosen, parameters)


def _hollow_network_fault(
    kind: str, chaos: Chaos, chosen: list[str], hollow: set[str], parameters: dict[str, Any]
) -> Fault:
    """A network fault of hollow nodes, simulated in their process (hollow_network.py)."""
    real = sorted(set(chosen) - hollow)
    if real:
        raise UserInputError(
            f"hollow and other nodes in one {kind} fault ({real[0]} is not hollow): "
            "inject them separately"
        )
    target = str(parameters.pop("target", "all"))
    direction = str(parameters.pop("direction", DEFAULT_DIRECTION.get(kind, "both")))
    check_hollow_request(kind, target, direction)
    arrow = {"to": "->", "from": "<-", "both": "<->"}[direction]
    parameters.update(
        hollow=True, direction=direction, between=f"{','.join(chosen)} {arrow} control-plane"
    )
    return build_fault(kind, chaos.engines, chaos.client, chosen, parameters)
