"""Inject, record, wait, revert: one fault's life, and the recovery of recorded ones."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from ku7s.api.quantity import QuantityError, parse_quantity
from ku7s.chaos.faults.bandwidth import BANDWIDTH_KINDS, BandwidthFault
from ku7s.chaos.faults.base import Fault
from ku7s.chaos.faults.component import SIGNALS, ComponentFault
from ku7s.chaos.faults.drain import DRAIN_KINDS, DrainFault
from ku7s.chaos.faults.hollow_network import HollowNetworkFault
from ku7s.chaos.faults.network import NETWORK_KINDS, NetworkFault
from ku7s.chaos.faults.node_state import ACTIONS, NodeStateFault
from ku7s.chaos.faults.pod import POD_KINDS, PodFault
from ku7s.chaos.faults.pressure import PRESSURE_KINDS, PressureFault
from ku7s.chaos.faults.volume import VOLUME_KINDS, VolumeFault
from ku7s.chaos.ledger import FaultRecord, Ledger
from ku7s.client.events import EventRecorder
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.engines import ClusterEngines
from ku7s.cluster.providers.node_spec import NodeContainer
from ku7s.durations import format_duration
from ku7s.errors import NotFoundError, UserInputError
from ku7s.names import WORKER

COMPONENT = "ku7s-chaos"
#: How long Events may take, and the record's deletion after a revert (the fault may have
#: been the API server's, which then takes a moment to answer again).
EVENT_TIMEOUT = 5.0
LEDGER_TIMEOUT = 30.0


def build_fault(
    kind: str,
    engines: ClusterEngines,
    client: APIClient,
    targets: list[str],
    parameters: dict[str, Any],
) -> Fault:
    """The fault of a kind; also how a record becomes a fault again for recovery."""
    if kind in ACTIONS:
        return NodeStateFault(kind, engines, list(targets))
    if kind in SIGNALS:
        return ComponentFault(kind, engines, str(parameters.get("component", "")), list(targets))
    if kind in DRAIN_KINDS:
        return DrainFault(kind, client, list(targets))
    if kind in VOLUME_KINDS:
        return VolumeFault(kind, engines, client, list(targets))
    if kind in POD_KINDS:
        return PodFault(kind, engines, client, list(targets), str(parameters.get("container", "")))
    if kind in NETWORK_KINDS and parameters.get("hollow"):
        return HollowNetworkFault(
            kind,
            engines,
            list(targets),
            delay=float(parameters.get("delay") or 0),
            jitter=float(parameters.get("jitter") or 0),
            direction=str(parameters.get("direction") or "both"),
            seconds=float(parameters.get("seconds") or 30),
            between=str(parameters.get("between") or ""),
        )
    if kind in NETWORK_KINDS:
        drops = {str(c): [str(m) for m in ms] for c, ms in (parameters.get("drops") or {}).items()}
        egress = {
            str(c): [str(a) for a in ms] for c, ms in (parameters.get("egress") or {}).items()
        }
        return NetworkFault(
            kind,
            engines,
            sorted({*drops, *egress}),
            drops=drops,
            egress=egress,
            percent=float(parameters.get("percent") or 100),
            delay=float(parameters.get("delay") or 0),
            jitter=float(parameters.get("jitter") or 0),
            seconds=float(parameters.get("seconds") or 30),
            tag=str(parameters.get("tag") or secrets.token_hex(4)),
            between=str(parameters.get("between") or ""),
        )
    if kind in BANDWIDTH_KINDS:
        return BandwidthFault(
            kind,
            engines,
            list(targets),
            destinations=[str(d) for d in parameters.get("destinations") or []],
            rate=str(parameters.get("rate") or "1mbit"),
            seconds=float(parameters.get("seconds") or 30),
            tag=str(parameters.get("tag") or secrets.token_hex(4)),
            between=str(parameters.get("between") or ""),
        )
    if kind in PRESSURE_KINDS:
        fault = PressureFault(
            kind,
            engines,
            list(targets),
            workers=int(parameters.get("workers") or 1),
            size=memory_size(parameters.get("size", "0")),
            seconds=float(parameters.get("seconds") or 30),
        )
        if parameters.get("tag"):
            fault.tag = str(parameters["tag"])
        return fault
    raise UserInputError(f"unknown fault {kind!r}")


def memory_size(value: object) -> int:
    try:
        size = int(parse_quantity(str(value)))
    except QuantityError as e:
        raise UserInputError(f"invalid --size {value!r}: {e}") from None
    if size <= 0 and str(value) != "0":
        raise UserInputError(f"invalid --size {value!r}: must be more than zero")
    return size


async def uninterrupted(work: Coroutine[Any, Any, None]) -> None:
    """Run to the end, however often the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(work)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    task.result()


def describe(record: FaultRecord) -> str:
    return describe_fault(record.kind, record.targets, record.parameters)


def latency_amount(parameters: dict[str, Any]) -> str:
    jitter = float(parameters.get("jitter") or 0)
    spread = f"±{format_duration(jitter)}" if jitter else ""
    return f"{format_duration(float(parameters.get('delay') or 0))}{spread} "


def describe_fault(kind: str, targets: list[str], parameters: dict[str, Any]) -> str:
    """The fault in a few words: its kind, what it acts on, and where."""
    if parameters.get("between"):
        amount = {
            "loss": f"{parameters.get('percent', 0):g}% ",
            "latency": latency_amount(parameters),
            "bandwidth": f"{parameters.get('rate')} ",
        }.get(kind, "")
        return f"{kind} {amount}{parameters['between']}"
    component = f" {parameters['component']}" if parameters.get("component") else ""
    return f"{kind}{component} on {', '.join(targets)}"


@dataclass
class Chaos:
    """What running faults takes: the engines holding the cluster's nodes, the cluster's API,
    and somewhere to report."""

    engines: ClusterEngines
    client: APIClient
    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.client)
        self.events = EventRecorder(self.client, COMPONENT)

    def _report(self, text: str) -> None:
        self.say(f"{datetime.datetime.now().strftime('%H:%M:%S')} {text}")

    async def _event(self, fault: Fault, reason: str, message: str) -> None:
        """An Event on each Node hit; best effort, since the fault may be the API's."""
        nodes = {n.name for n in await asyncio.to_thread(self._worker_nodes, fault.targets)}

        async def post() -> None:
            for target in sorted(nodes):
                node = await self.client.get(f"/api/v1/nodes/{target}")
                self.events.record(
                    {**node, "kind": "Node", "apiVersion": "v1"}, "Warning", reason, message
                )
            await self.events.flush()

        with contextlib.suppress(APIStatusError, TimeoutError, OSError, aiohttp.ClientError):
            await asyncio.wait_for(post(), EVENT_TIMEOUT)

    def _worker_nodes(self, names: list[str]) -> list[NodeContainer]:
        found = []
        for name in names:
            try:
                node = self.engines.find_node(name)
            except NotFoundError:
                continue  # removed
            if node.role == WORKER:
                found.append(node)
        return found

    async def check_conflicts(self, fault: Fault) -> None:
        """Refuse a network fault on a link another fault in force already acts on: their
        rules would contradict each other (a 30% loss inside a partition, say)."""
        if fault.kind not in NETWORK_KINDS:
            return
        wanted = fault.parameters().get("drops") or {}
        for record in await self.ledger.records():
            if record.kind not in NETWORK_KINDS or record.leftover:
                continue
            held = record.parameters.get("drops") or {}
            for container, matches in wanted.items():
                if set(matches) & set(held.get(container, [])):
                    raise UserInputError(
                        f"fault {record.id} ({record.kind}) already acts on a link of "
                        f"{container}; recover it first"
                    )

    async def run(
        self,
        fault: Fault,
        duration: float,
        seed: int,
        on_injected: Callable[[], None] | None = None,
    ) -> FaultRecord:
        """Inject the fault, hold it for `duration` (or until cancelled), revert it."""
        await self.check_conflicts(fault)
        record = FaultRecord.new(
            fault.kind, fault.targets, duration if fault.reversible else 0, seed, fault.parameters()
        )
        await self.ledger.add(record)
        injected = False
        try:
            # An interrupt must not leave a fault half made and unrecorded: the injection
            # runs to its end, and is then reverted.
            injecting = asyncio.ensure_future(fault.inject())
            try:
                await asyncio.shield(injecting)
            except asyncio.CancelledError:
                while not injecting.done():
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait([injecting])
                injected = True
                raise
            injected = True
            if on_injected is not None:
                on_injected()
            how_long = f" for {format_duration(duration)}" if fault.reversible else ""
            what = describe(record)
            self._report(f"injected {what}{how_long} (fault {record.id}, seed {seed})")
            await self._event(fault, "ChaosInjected", f"{what}{how_long} (fault {record.id})")
            if fault.reversible:
                await asyncio.sleep(duration)
        finally:
            # A second interrupt must not cut a revert short either.
            if injected and fault.reversible:
                await uninterrupted(self.revert(record, fault))
            else:
                await uninterrupted(self._forget(record))
        return record

    async def revert(self, record: FaultRecord, fault: Fault | None = None) -> None:
        fault = fault or build_fault(
            record.kind, self.engines, self.client, record.targets, record.parameters
        )
        await fault.revert()
        what = describe(record)
        self._report(f"reverted {what} (fault {record.id})")
        await self._forget(record)
        await self._event(fault, "ChaosReverted", f"{what} reverted (fault {record.id})")

    async def _forget(self, record: FaultRecord) -> None:
        """Delete the record, waiting for an API that the fault may have restarted."""
        deadline = asyncio.get_running_loop().time() + LEDGER_TIMEOUT
        while True:
            try:
                await self.ledger.remove(record)
                return
            except (APIStatusError, TimeoutError, OSError, aiohttp.ClientError):
                if asyncio.get_running_loop().time() > deadline:
                    self._report(
                        f"could not delete the record of fault {record.id}; "
                        "`ku7s chaos recover` will clear it"
                    )
                    return
                await asyncio.sleep(0.5)

    async def recover(self, ids: list[str], everything: bool) -> list[FaultRecord]:
        """Revert recorded faults: the named ones, or all of them, or the leftovers of runs
        that died."""
        records = await self.ledger.records()
        known = {r.id for r in records}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UserInputError(f"no fault {unknown[0]!r} is in force; see `ku7s chaos list`")
        chosen = [r for r in records if everything or r.id in ids or (not ids and r.leftover)]
        for record in chosen:
            await self.revert(record)
        return chosen
