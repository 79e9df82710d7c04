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
        name = meta.name_of(quota)

        def add(current: Object) -> Object:
            hard = (current.get("status") or {}).get("hard") or {}
            if not all(resource in hard for resource in charged):
                raise errors.forbidden(
                    plural,
                    meta.name_of(obj),
                    f"status unknown for quota: {name}, resources: {','.join(sorted(charged))}",
                )
            used = {
                k: _parse(v) for k, v in ((current.get("status") or {}).get("used") or {}).items()
            }
            over = {
                r: v for r, v in charged.items() if used.get(r, Decimal(0)) + v > _parse(hard[r])
            }
            if over:
                raise errors.forbidden(
                    plural,
                    meta.name_of(obj),
                    f"exceeded quota: {name}, requested: {_listed(over)}, "
                    f"used: {_listed({r: used.get(r, Decimal(0)) for r in over})}, "
                    f"limited: {_listed({r: _parse(hard[r]) for r in over})}",
                )
            status = current.setdefault("status", {})
            status["used"] = {
                **(status.get("used") or {}),
                **{r: format_quantity(r, used.get(r, Decimal(0)) + v) for r, v in charged.items()},
            }
            return current

        kind = self._registry.kinds.get(QUOTAS)
        await self._registry.mutate(
            kind, meta.namespace_of(quota), name, add, "status", dry_run=dry_run
        )
