"""Taints and tolerations, as the scheduler and the node lifecycle controller match them."""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]


def tolerates(toleration: Object, taint: Object) -> bool:
    """Whether the toleration covers the taint: same effect (or any), and the same key and
    value (operator Equal) or the key alone (Exists; an empty key covers every taint)."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (
        taint.get("value") or ""
    )


#: Put on a node by its admin once it is known to be down: its pods and their volumes are
#: released at once (upstream's non-graceful node shutdown).
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


def out_of_service(node: Object | None) -> bool:
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    return any(t.get("key") == OUT_OF_SERVICE and t.get("effect") == "NoExecute" for t in taints)
