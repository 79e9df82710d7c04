"""Start-up reconciliation of the bootstrap policy, as kube-apiserver's RBAC post-start hook.

Missing roles and bindings are created. Existing ones keep what users added: a role gains
the bootstrap rules it lacks and a binding the subjects it lacks, unless its
``rbac.authorization.kubernetes.io/autoupdate`` annotation is ``false``.
"""

from __future__ import annotations

import logging
from typing import Any

from control_plane.apiserver import errors
from control_plane.apiserver.authorization import bootstrap_policy
from control_plane.apiserver.kinds.rbac import GROUP
from control_plane.apiserver.registry import Registry
from ku7s.api import meta

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]


def _merged(existing: Object, wanted: Object) -> Object | None:
    """The object to write back, or None if `existing` already has what `wanted` brings."""
    merged = meta.clone(existing)
    changed = False
    labels = merged["metadata"].setdefault("labels", {})
    for key, value in (wanted["metadata"].get("labels") or {}).items():
        if labels.get(key) != value:
            labels[key], changed = value, True
    if "roleRef" in wanted:
        changed |= _add_missing(merged.setdefault("subjects", []), wanted["subjects"])
        return merged if changed else None
    if "aggregationRule" in wanted:
        if merged.get("aggregationRule") != wanted["aggregationRule"]:
            merged["aggregationRule"], changed = wanted["aggregationRule"], True
        return merged if changed else None
    changed |= _add_missing(merged.setdefault("rules", []), wanted["rules"])
    return merged if changed else None


def _add_missing(items: list[Object], wanted: list[Object]) -> bool:
    """Append what `items` lacks of `wanted`; return whether anything was."""
    missing = [w for w in wanted if w not in items]
    items.extend(missing)
    return bool(missing)


async def reconcile_bootstrap_policy(registry: Registry) -> None:
    for plural, objects in (
        ("clusterroles", bootstrap_policy.cluster_roles()),
        ("clusterrolebindings", bootstrap_policy.cluster_role_bindings()),
        ("roles", bootstrap_policy.roles()),
        ("rolebindings", bootstrap_policy.role_bindings()),
    ):
        kind = registry.kinds.get(plural, GROUP)
        for wanted in objects:
            name = wanted["metadata"]["name"]
            namespace = wanted["metadata"].get("namespace", "")
            existing = await registry.find(kind, namespace, name)
            if existing is None:
                try:
                    await registry.create(kind, namespace, wanted)
                except errors.APIError as e:
                    if e.code != 409:
                        raise
                continue
            annotations = existing["metadata"].get("annotations") or {}
            if annotations.get(bootstrap_policy.AUTOUPDATE) == "false":
                continue
            merged = _merged(existing, wanted)
            if merged is not None:
                log.info("reconciling %s %s with the bootstrap policy", plural, name)
                await registry.update(kind, namespace, name, merged)
