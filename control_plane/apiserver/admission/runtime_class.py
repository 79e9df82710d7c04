"""The RuntimeClass admission plugin: a new pod naming a RuntimeClass must name one that
exists, and takes on its pod overhead and its scheduling (node selector and tolerations),
as upstream's plugin does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from ku7s.api import meta

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


def _refuse(pod: Object, why: str) -> errors.APIError:
    name = meta.name_of(pod) or pod["metadata"].get("generateName", "")
    return errors.forbidden("pods", name, f"pod rejected: {why}")


class RuntimeClassAdmission:
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
        if old is not None or subresource or rt.group or rt.plural != "pods":
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict) or not spec.get("runtimeClassName"):
            return
        name = spec["runtimeClassName"]
        runtime_class = await registry.find(
            registry.kinds.get("runtimeclasses", "node.k8s.io"), "", name
        )
        if runtime_class is None:
            raise _refuse(obj, f'RuntimeClass "{name}" not found')
        overhead = (runtime_class.get("overhead") or {}).get("podFixed")
        if overhead:
            if spec.get("overhead") not in (None, overhead):
                raise _refuse(obj, "Pod's Overhead doesn't match RuntimeClass's defined Overhead")
            spec["overhead"] = dict(overhead)
        scheduling = runtime_class.get("scheduling") or {}
        selector = spec.setdefault("nodeSelector", {})
        for key, value in (scheduling.get("nodeSelector") or {}).items():
            if key in selector and selector[key] != value:
                raise _refuse(
                    obj,
                    f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                    f"pod.spec.nodeSelector[{key}] = {selector[key]}",
                )
            selector[key] = value
        if not selector:
            del spec["nodeSelector"]
        tolerations = spec.setdefault("tolerations", [])
        for toleration in scheduling.get("tolerations") or []:
            if toleration not in tolerations:
                tolerations.append(toleration)
