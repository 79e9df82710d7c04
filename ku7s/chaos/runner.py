"""Inject, record, wait, revert: one fault's life, and the recovery of recorded ones."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ku7s.chaos.duration import format_duration
from ku7s.chaos.faults.base import Fault
from ku7s.chaos.faults.node_state import ACTIONS, NodeStateFault
from ku7s.chaos.ledger import FaultRecord, Ledger
from ku7s.client.events import EventRecorder
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import UserInputError

COMPONENT = "ku7s-chaos"


def build_fault(
    kind: str, provider: DockerProvider, targets: list[str], parameters: dict[str, Any]
) -> Fault:
    """The fault of a kind; also how a record becomes a fault again for recovery."""
    if kind in ACTIONS:
        return NodeStateFault(kind, provider, list(targets))
    raise UserInputError(f"unknown fault {kind!r}")


@dataclass
class Chaos:
    """What running faults takes: Docker, the cluster's API, and somewhere to report."""

    provider: DockerProvider
    client: APIClient
    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.client)
        self.events = EventRecorder(self.client, COMPONENT)

    def _report(self, text: str) -> None:
        self.say(f"{datetime.datetime.now().strftime('%H:%M:%S')} {text}")

    async def _event(self, fault: Fault, reason: str, message: str) -> None:
        for target in fault.targets:
            try:
                node = await self.client.get(f"/api/v1/nodes/{target}")
            except APIStatusError:
                continue  # the control plane is not a Node; a removed node has none
            self.events.record(
                {**node, "kind": "Node", "apiVersion": "v1"}, "Warning", reason, message
            )
        await self.events.flush()

    async def run(self, fault: Fault, duration: float, seed: int) -> FaultRecord:
        """Inject the fault, hold it for `duration` (or until cancelled), revert it."""
        record = FaultRecord.new(
            fault.kind, fault.targets, duration if fault.reversible else 0, seed, fault.parameters()
        )
        await self.ledger.add(record)
        injected = False
        try:
            await asyncio.to_thread(fault.inject)
            injected = True
            how_long = f" for {format_duration(duration)}" if fault.reversible else ""
            self._report(
                f"injected {fault.kind} on {', '.join(fault.targets)}{how_long} "
                f"(fault {record.id}, seed {seed})"
            )
            await self._event(fault, "ChaosInjected", f"{fault.kind}{how_long} (fault {record.id})")
            if fault.reversible:
                await asyncio.sleep(duration)
        finally:
            if injected and fault.reversible:
                await self.revert(record, fault)
            else:
                await self.ledger.remove(record)
        return record

    async def revert(self, record: FaultRecord, fault: Fault | None = None) -> None:
        fault = fault or build_fault(record.kind, self.provider, record.targets, record.parameters)
        await asyncio.to_thread(fault.revert)
        await self.ledger.remove(record)
        self._report(f"reverted {record.kind} on {', '.join(record.targets)} (fault {record.id})")
        await self._event(fault, "ChaosReverted", f"{record.kind} reverted (fault {record.id})")

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
