"""An autoscaler must point at something it can scale: a HorizontalPodAutoscaler whose
scaleTargetRef names a served kind without the scale subresource is refused with 422 on
the field (a kind not served yet, such as a custom resource installed later, is let
through: the controller reports it in the autoscaler's conditions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class ScaleTargetCheck:
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
        if subresource or rt.group != "autoscaling" or rt.plural != "horizontalpodautoscalers":
            return
        ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        api_version, target = str(ref.get("apiVersion") or "v1"), ref.get("kind")
        group, _, version = api_version.rpartition("/")
        served = registry.kinds.in_group_version(group, version)
        if not target or not served:
            return
        match = next((k for k in served if k.resource.kind == target), None)
        if match is None or "scale" not in match.resource.subresources:
            why = "is not served" if match is None else "has no scale subresource"
            message = f'Invalid value: "{target}": {api_version} {target} {why}'
            cause = ("spec.scaleTargetRef.kind", "FieldValueInvalid", message)
            raise errors.invalid(rt.kind, obj["metadata"].get("name", ""), [cause], rt.group)
