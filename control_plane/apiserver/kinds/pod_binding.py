"""A pod's binding subresource, as upstream's BindingREST: how the scheduler assigns a pod
to a node (once, and never a pod being deleted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from control_plane.apiserver import errors
from control_plane.apiserver.kinds.base import Object
from control_plane.apiserver.kinds.pod import bind

if TYPE_CHECKING:
    from control_plane.apiserver.registry import Registry


class BindingREST:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def create(
        self, namespace: str, name: str, binding: Object, *, dry_run: bool = False
    ) -> None:
        node = (binding.get("target") or {}).get("name")
        if not node:
            raise errors.invalid(
                "Binding", name, [("target.name", "FieldValueRequired", "Required value")]
            )

        def assign(pod: Object) -> Object:
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.APIError(
                    409, "Conflict", f"pod {name} is being deleted, cannot be assigned to a host"
                )
            current = (pod.get("spec") or {}).get("nodeName")
            if current:
                raise errors.APIError(
                    409, "Conflict", f'pod {name} is already assigned to node "{current}"'
                )
            return bind(pod, node)

        pods = self._registry.kinds.get("pods")
        await self._registry.mutate(pods, namespace, name, assign, "binding", dry_run=dry_run)
