"""The ResourceQuota admission plugin: a new object is charged to every quota of its
namespace that covers it, and one that would take a quota over its hard limit is refused
with upstream's 403 ``exceeded quota``.

The API server keeps each quota's usage in a ledger of its own: decided and charged in
one step with no wait between (so concurrent creates can never both take the last unit),
then written to the quota's status shortly after, the charges of a burst in one write.
A write by someone else (the quota controller's recount, a changed limit) is taken over
as the new usage, plus what has been charged and not written yet. A namespace without
quotas costs nothing: the quotas are known by watch. (One API server decides; with
several, each would need its writes checked against the others', as upstream does.)"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.following import Mirror
from ku7s.api import meta
from ku7s.api.pod_resources import amount
from ku7s.api.quota import COMPUTE, format_quantity, quota_covers, usage

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]
QUOTAS = "resourcequotas"
Key = tuple[str, str]

log = logging.getLogger("kube-apiserver")


def _amounts(values: Any) -> dict[str, Decimal]:
    return {name: amount(v) for name, v in (values or {}).items()}


def _listed(values: dict[str, Decimal]) -> str:
    return ",".join(f"{name}={format_quantity(name, v)}" for name, v in sorted(values.items()))


@dataclass
class _Ledger:
    """One quota's usage as this API server knows it."""

    hard: dict[str, Decimal]
    used: dict[str, Decimal]
    #: The quota's resourceVersion the ledger is up to date with.
    seen: int
    #: Charged and not written to the quota's status yet.
    unwritten: dict[str, Decimal] = field(default_factory=dict)
    #: resourceVersions of our own writes (their echoes are no news).
    ours: set[int] = field(default_factory=set)
    writing: bool = False


class QuotaAdmission:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._quotas = Mirror(registry, [registry.kinds.get(QUOTAS)], why="quota admission")
        self._ledgers: dict[Key, _Ledger] = {}
        self._writers: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        await self._quotas.run(stop)

    async def wait_synced(self) -> None:
        await self._quotas.wait_synced()

    async def validate(
        self,
        kind: Kind,
        obj: Object | None,
        old: Object | None,
        *,
        operation: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        rt = kind.resource
        if operation != "CREATE" or subresource or obj is None or not rt.namespaced:
            return
        namespace = meta.namespace_of(obj)
        quotas = [q for (ns, _), q in self._quotas.objects[QUOTAS].items() if ns == namespace]
        if not quotas:
            return
        wanted = usage(rt.plural, rt.group, obj)
        charges: list[tuple[Key, dict[str, Decimal]]] = []
        for quota in sorted(quotas, key=meta.name_of):
            if not quota_covers(quota, rt.plural, rt.group, obj):
                continue
            hard = (quota.get("spec") or {}).get("hard") or {}
            self._require_specified(quota, hard, rt.plural, rt.group, wanted, obj)
            charged = {name: v for name, v in wanted.items() if name in hard}
            if charged:
                refusal = self._refusal(quota, charged)
                if refusal is not None:
                    raise errors.forbidden(rt.plural, meta.name_of(obj), refusal)
                charges.append(((namespace, meta.name_of(quota)), charged))
        if dry_run:
            return
        # Every quota agreed: charge them all, with no await since the checks.
        for key, charged in charges:
            ledger = self._ledgers[key]
            for resource, value in charged.items():
                ledger.used[resource] = ledger.used.get(resource, Decimal(0)) + value
                ledger.unwritten[resource] = ledger.unwritten.get(resource, Decimal(0)) + value
            if not ledger.writing:
                ledger.writing = True
                task = asyncio.get_running_loop().create_task(self._write(key, ledger))
                self._writers.add(task)
                task.add_done_callback(self._writers.discard)

    def _ledger(self, quota: Object) -> _Ledger | None:
        """The quota's ledger, brought up to date with what others wrote; None until the
        quota controller has written the quota's status once."""
        key = (meta.namespace_of(quota), meta.name_of(quota))
        status = quota.get("status") or {}
        version = int(meta.resource_version(quota) or 0)
        ledger = self._ledgers.get(key)
        if ledger is not None and (version <= ledger.seen or version in ledger.ours):
            if version > ledger.seen:  # our own write come back: forget the older ones
                ledger.seen = version
                ledger.ours.difference_update({v for v in ledger.ours if v <= version})
            return ledger
        if not status.get("hard"):
            return None
        used = _amounts(status.get("used"))
        unwritten = dict(ledger.unwritten) if ledger is not None else {}
        for resource, value in unwritten.items():
            used[resource] = used.get(resource, Decimal(0)) + value
        fresh = _Ledger(_amounts(status["hard"]), used, version, unwritten)
        if ledger is not None:
            fresh.ours, fresh.writing = ledger.ours, ledger.writing
        self._ledgers[key] = fresh
        return fresh

    def _refusal(self, quota: Object, charged: dict[str, Decimal]) -> str | None:
        """Why the charge does not fit the quota (upstream's words), or None."""
        name = meta.name_of(quota)
        ledger = self._ledger(quota)
        if ledger is None or not all(resource in ledger.hard for resource in charged):
            return f"status unknown for quota: {name}, resources: {','.join(sorted(charged))}"
        used, hard = ledger.used, ledger.hard
        over = {r: v for r, v in charged.items() if used.get(r, Decimal(0)) + v > hard[r]}
        if not over:
            return None
        return (
            f"exceeded quota: {name}, requested: {_listed(over)}, "
            f"used: {_listed({r: used.get(r, Decimal(0)) for r in over})}, "
            f"limited: {_listed({r: hard[r] for r in over})}"
        )

    async def _write(self, key: Key, ledger: _Ledger) -> None:
        """Write the ledger's usage to the quota's status until nothing is left unwritten;
        the charges that come meanwhile go in the next write."""
        namespace, name = key
        kind = self._registry.kinds.get(QUOTAS)
        try:
            while True:
                ledger = self._ledgers.get(key, ledger)  # replaced if others wrote meanwhile
                if not ledger.unwritten:
                    return
                written = {
                    r: format_quantity(r, ledger.used.get(r, Decimal(0))) for r in ledger.unwritten
                }
                ledger.unwritten = {}

                def record(current: Object, written: dict[str, str] = written) -> Object:
                    status = current.setdefault("status", {})
                    status["used"] = {**(status.get("used") or {}), **written}
                    return current

                try:
                    stored = await self._registry.mutate(kind, namespace, name, record, "status")
                except errors.APIError as e:
                    log.warning("cannot write the usage of quota %s/%s: %s", namespace, name, e)
                    return  # the quota controller's recount puts it right
                self._ledgers.get(key, ledger).ours.add(int(meta.resource_version(stored) or 0))
        finally:
            self._ledgers.get(key, ledger).writing = False

    @staticmethod
    def _require_specified(
        quota: Object,
        hard: Object,
        plural: str,
        group: str,
        wanted: dict[str, Decimal],
        obj: Object,
    ) -> None:
        """A quota on compute resources needs every pod to say what it asks for."""
        if group or plural != "pods":
            return
        missing = sorted(
            name
            for name in hard
            if name not in wanted
            and (name in COMPUTE or name.partition(".")[2] in COMPUTE)
            and name.partition(".")[0] in ("requests", "limits", *COMPUTE)
        )
        if missing:
            raise errors.forbidden(
                plural,
                meta.name_of(obj),
                f"failed quota: {meta.name_of(quota)}: must specify {','.join(missing)}",
            )
