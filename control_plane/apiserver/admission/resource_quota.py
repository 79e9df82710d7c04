"""The ResourceQuota admission plugin: a new object is charged to every quota of its
namespace that covers it, in the quota's status, before it is stored; one that would go
over a quota's hard limit is refused with upstream's 403 ``exceeded quota``. The quota
controller recounts later (deletions, failed creates). A namespace without quotas costs
nothing: the quotas are known by watch."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.following import Mirror
from ku7s.api import meta
from ku7s.api.quantity import QuantityError, parse_quantity
from ku7s.api.quota import COMPUTE, format_quantity, quota_covers, usage

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]
QUOTAS = "resourcequotas"


def _parse(value: Any) -> Decimal:
    try:
        return parse_quantity(value)
    except (QuantityError, AttributeError, TypeError):
        return Decimal(0)


def _listed(values: dict[str, Decimal]) -> str:
    return ",".join(f"{name}={format_quantity(name, v)}" for name, v in sorted(values.items()))


class QuotaAdmission:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._quotas = Mirror(registry, [registry.kinds.get(QUOTAS)], why="quota admission")
        #: Charges waiting to be written, per quota (namespace, name).
        self._pending: dict[tuple[str, str], list[_Charge]] = {}
        self._draining: set[asyncio.Task[None]] = set()

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
        for quota in sorted(quotas, key=meta.name_of):
            if not quota_covers(quota, rt.plural, rt.group, obj):
                continue
            hard = (quota.get("spec") or {}).get("hard") or {}
            self._require_specified(quota, hard, rt.plural, rt.group, wanted, obj)
            charged = {name: v for name, v in wanted.items() if name in hard}
            if not charged:
                continue
            await self._charge(quota, charged, obj, rt.plural, dry_run)

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

    async def _charge(
        self, quota: Object, charged: dict[str, Decimal], obj: Object, plural: str, dry_run: bool
    ) -> None:
        charge = _Charge(charged, plural, meta.name_of(obj))
        key = (meta.namespace_of(quota), meta.name_of(quota))
        if dry_run:  # checked against the quota, written nowhere
            await self._write(key, [charge], dry_run=True)
            charge.settle()
            return
        queue = self._pending.setdefault(key, [])
        queue.append(charge)
        if len(queue) == 1:
            task = asyncio.get_running_loop().create_task(self._drain(key))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)
        await charge.done

    async def _drain(self, key: tuple[str, str]) -> None:
        """Write the charges waiting for one quota, as many at a time as have come: one
        read and one write for a burst of creates instead of a conflict each."""
        queue = self._pending[key]
        while queue:
            batch = list(queue)
            try:
                await self._write(key, batch, dry_run=False)
            except Exception as e:  # the write failed: so did every charge in it
                for charge in batch:
                    charge.fail(e)
            for charge in batch:
                charge.settle()
            del queue[: len(batch)]
        del self._pending[key]

    async def _write(self, key: tuple[str, str], batch: list[_Charge], *, dry_run: bool) -> None:
        namespace, name = key

        def add(current: Object) -> Object:
            status = current.setdefault("status", {})
            hard = status.get("hard") or {}
            used = {k: _parse(v) for k, v in (status.get("used") or {}).items()}
            for charge in batch:
                charge.refusal = charge.check(name, hard, used)
                if charge.refusal is None:
                    for resource, value in charge.wanted.items():
                        used[resource] = used.get(resource, Decimal(0)) + value
            changed = {r for c in batch if c.refusal is None for r in c.wanted}
            status["used"] = {
                **(status.get("used") or {}),
                **{r: format_quantity(r, used[r]) for r in changed},
            }
            return current

        kind = self._registry.kinds.get(QUOTAS)
        await self._registry.mutate(kind, namespace, name, add, "status", dry_run=dry_run)


class _Charge:
    """One object's charge to a quota, settled when the batch it is in is written."""

    def __init__(self, wanted: dict[str, Decimal], plural: str, name: str) -> None:
        self.wanted = wanted
        self._plural, self._name = plural, name
        self.refusal: errors.APIError | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(self, quota: str, hard: Object, used: dict[str, Decimal]) -> errors.APIError | None:
        """Why the charge does not fit (upstream's words), or None."""
        if not all(resource in hard for resource in self.wanted):
            resources = ",".join(sorted(self.wanted))
            return self._forbidden(f"status unknown for quota: {quota}, resources: {resources}")
        over = {
            r: v for r, v in self.wanted.items() if used.get(r, Decimal(0)) + v > _parse(hard[r])
        }
        if not over:
            return None
        return self._forbidden(
            f"exceeded quota: {quota}, requested: {_listed(over)}, "
            f"used: {_listed({r: used.get(r, Decimal(0)) for r in over})}, "
            f"limited: {_listed({r: _parse(hard[r]) for r in over})}"
        )

    def _forbidden(self, why: str) -> errors.APIError:
        return errors.forbidden(self._plural, self._name, why)

    def fail(self, error: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(error)

    def settle(self) -> None:
        if self.done.done():
            return
        if self.refusal is not None:
            self.done.set_exception(self.refusal)
        else:
            self.done.set_result(None)
