"""The LimitRanger admission plugin: a new pod's containers get the default requests and
limits of their namespace's LimitRanges, then must stay within their min, max and
limit/request ratio (per container, and summed per pod); a PersistentVolumeClaim's
storage request within its bounds."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.following import Mirror
from ku7s.api import meta
from ku7s.api.pod_resources import pod_resources
from ku7s.api.quantity import QuantityError, parse_quantity

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]
RANGES = "limitranges"


def _parse(value: Any) -> Decimal | None:
    try:
        return parse_quantity(value)
    except (QuantityError, AttributeError, TypeError):
        return None


def _bounds(item: Object, kind: str, resources: dict[str, dict[str, Any]]) -> list[str]:
    """What breaks one LimitRange item, in upstream's words."""
    problems = []
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for name, low in (item.get("min") or {}).items():
        request, limit = _parse(requests.get(name)), _parse(limits.get(name))
        if request is None:
            problems.append(f"minimum {name} usage per {kind} is {low}.  No request is specified")
        elif request < (_parse(low) or 0):
            problems.append(
                f"minimum {name} usage per {kind} is {low}, but request is {requests[name]}"
            )
        if limit is not None and limit < (_parse(low) or 0):
            problems.append(
                f"minimum {name} usage per {kind} is {low}, but limit is {limits[name]}"
            )
    for name, high in (item.get("max") or {}).items():
        limit = _parse(limits.get(name))
        if limit is None:
            problems.append(f"maximum {name} usage per {kind} is {high}.  No limit is specified")
        elif limit > (_parse(high) or 0):
            problems.append(
                f"maximum {name} usage per {kind} is {high}, but limit is {limits[name]}"
            )
    for name, ratio in (item.get("maxLimitRequestRatio") or {}).items():
        request, limit = _parse(requests.get(name)), _parse(limits.get(name))
        if request and limit is not None and limit / request > (_parse(ratio) or 0):
            problems.append(
                f"{name} max limit to request ratio per {kind} is {ratio}, but provided ratio is "
                f"{limit / request:.6f}"
            )
    return problems


class LimitRanger:
    def __init__(self, registry: Registry) -> None:
        self._ranges = Mirror(registry, [registry.kinds.get(RANGES)], why="limit ranger")

    async def run(self, stop: asyncio.Event) -> None:
        await self._ranges.run(stop)

    async def wait_synced(self) -> None:
        await self._ranges.wait_synced()

    async def admit(
        self,
        registry: Registry,
        kind: Kind,
        obj: Object,
        old: Object | None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        rt = kind.resource
        if (
            old is not None
            or subresource
            or rt.group
            or rt.plural not in ("pods", "persistentvolumeclaims")
        ):
            return
        namespace = meta.namespace_of(obj)
        items = [
            item
            for (ns, _), lr in sorted(self._ranges.objects[RANGES].items())
            if ns == namespace
            for item in (lr.get("spec") or {}).get("limits") or []
        ]
        if not items:
            return
        problems = self._pod(obj, items) if rt.plural == "pods" else self._claim(obj, items)
        if problems:
            text = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
            raise errors.forbidden(
                rt.plural, meta.name_of(obj) or obj["metadata"].get("generateName", ""), text
            )

    @staticmethod
    def _pod(pod: Object, items: list[Object]) -> list[str]:
        spec = pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        problems: list[str] = []
        for item in items:
            if item.get("type") == "Container":
                for container in containers:
                    resources = container.setdefault("resources", {})
                    limits = resources.setdefault("limits", {})
                    requests = resources.setdefault("requests", {})
                    defaults = item.get("default") or {}
                    for name, value in defaults.items():
                        limits.setdefault(name, value)
                    for name, value in {**defaults, **(item.get("defaultRequest") or {})}.items():
                        requests.setdefault(name, value)
                    for part in ("limits", "requests"):
                        if not resources[part]:
                            del resources[part]
        for item in items:
            if item.get("type") == "Container":
                for container in containers:
                    problems += _bounds(item, "Container", container.get("resources") or {})
            elif item.get("type") == "Pod":
                totals = {
                    part: {n: str(v) for n, v in pod_resources(pod, part).items()}
                    for part in ("requests", "limits")
                }
                problems += _bounds(item, "Pod", totals)
        return problems

    @staticmethod
    def _claim(claim: Object, items: list[Object]) -> list[str]:
        resources = (claim.get("spec") or {}).get("resources") or {}
        problems: list[str] = []
        for item in items:
            if item.get("type") == "PersistentVolumeClaim":
                problems += _bounds(
                    item,
                    "PersistentVolumeClaim",
                    {
                        **resources,
                        "limits": resources.get("limits") or resources.get("requests") or {},
                    },
                )
        return problems
