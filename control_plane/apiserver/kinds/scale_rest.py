"""The scale subresource of every kind with one (deployments, replicasets, statefulsets,
custom resources that declare it), as upstream's ScaleREST: read as an autoscaling/v1
Scale, written by setting the replicas the Scale asks for, with its resourceVersion as a
precondition."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from control_plane.apiserver import errors
from control_plane.apiserver.kinds.base import Object, ScalableKind

if TYPE_CHECKING:
    from control_plane.apiserver.registry import Registry


class ScaleREST:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, kind: ScalableKind, namespace: str, name: str) -> Object:
        return kind.scale(await self._registry.get(kind, namespace, name))

    async def update(
        self,
        kind: ScalableKind,
        namespace: str,
        name: str,
        change: Callable[[Object], Object],
        *,
        dry_run: bool = False,
    ) -> Object:
        """Apply change (current Scale -> wanted Scale) and return the Scale after it."""

        def apply(current: Object) -> Object:
            scale = change(kind.scale(current))
            wanted = (scale.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(kind.resource.plural, name, kind.resource.group)
            replicas = (scale.get("spec") or {}).get("replicas")
            if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale", name, [(
                    "spec.replicas", "FieldValueInvalid",
                    f"Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0",
                )], "autoscaling")  # fmt: skip
            kind.set_replicas(current, replicas)
            return current

        updated = await self._registry.mutate(kind, namespace, name, apply, dry_run=dry_run)
        return kind.scale(updated)
