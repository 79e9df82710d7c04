"""The Priority admission plugin: a new pod gets the value and preemption policy of its
PriorityClass (or of the cluster's global default class, else 0), and at most one class
is the global default."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.following import Mirror

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class PriorityAdmission:
    def __init__(self, registry: Registry) -> None:
        self._classes = Mirror(
            registry, [registry.kinds.get("priorityclasses", "scheduling.k8s.io")], why="priority"
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._classes.run(stop)

    async def wait_synced(self) -> None:
        await self._classes.wait_synced()

    def _default_class(self) -> Object | None:
        defaults = [
            c for c in self._classes.objects["priorityclasses"].values() if c.get("globalDefault")
        ]
        return min(defaults, key=lambda c: c.get("value", 0), default=None)

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
        if old is not None or subresource:
            return
        rt = kind.resource
        if rt.group == "scheduling.k8s.io" and rt.plural == "priorityclasses":
            self._one_default(obj)
        elif rt.group == "" and rt.plural == "pods":
            await self._pod(registry, obj)

    def _one_default(self, obj: Object) -> None:
        current = self._default_class()
        if obj.get("globalDefault") and current is not None:
            raise errors.forbidden(
                "priorityclasses",
                obj["metadata"].get("name", ""),
                f'PriorityClass "{current["metadata"]["name"]}" is already marked as default. '
                "Only one default can exist",
            )

    async def _pod(self, registry: Registry, pod: Object) -> None:
        spec = pod.get("spec")
        if not isinstance(spec, dict):
            return
        name = spec.get("priorityClassName")
        if name:
            found = self._classes.objects["priorityclasses"].get(("", name))
            if found is None:  # made a moment ago, before our copy heard of it
                kind = registry.kinds.get("priorityclasses", "scheduling.k8s.io")
                found = await registry.find(kind, "", name)
            if found is None:
                raise errors.forbidden(
                    "pods",
                    pod["metadata"].get("name") or pod["metadata"].get("generateName", ""),
                    f"no PriorityClass with name {name} was found",
                )
        else:
            found = self._default_class()
        value = int(found.get("value", 0)) if found else 0
        policy = (
            found.get("preemptionPolicy", "PreemptLowerPriority")
            if found
            else "PreemptLowerPriority"
        )
        given = spec.get("priority")
        if given is not None and given != value:
            raise errors.forbidden(
                "pods",
                pod["metadata"].get("name") or pod["metadata"].get("generateName", ""),
                f"the integer value of priority ({given}) must not be provided in pod spec; "
                f"priority admission controller computed {value} from the given PriorityClass name",
            )
        spec["priority"] = value
        if found is not None and "priorityClassName" not in spec:
            spec["priorityClassName"] = found["metadata"]["name"]
        spec["preemptionPolicy"] = policy
