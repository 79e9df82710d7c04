"""What the workload controllers share about pods: making them from a template with an
owner reference, and telling active, ready and available pods apart."""

from __future__ import annotations

import datetime
from typing import Any

from ku7s.api import meta
from ku7s.api.selectors import from_label_selector

Object = dict[str, Any]


def controller_ref(owner: Object) -> Object:
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta.name_of(owner),
        "uid": meta.uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Object) -> Object | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controller_uid(obj: Object) -> list[str]:
    """For an informer index: the uid of the object's controller, if any."""
    ref = controller_of(obj)
    return [str(ref.get("uid", ""))] if ref else []


def pod_from_template(
    template: Object, owner: Object, *, name: str | None = None, extra_labels: Object | None = None
) -> Object:
    metadata = dict(template.get("metadata") or {})
    labels = {**(metadata.get("labels") or {}), **(extra_labels or {})}
    pod_meta: Object = {
        "labels": labels,
        "ownerReferences": [controller_ref(owner)],
    }
    if metadata.get("annotations"):
        pod_meta["annotations"] = dict(metadata["annotations"])
    if metadata.get("finalizers"):
        pod_meta["finalizers"] = list(metadata["finalizers"])
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = f"{meta.name_of(owner)}-"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": meta.clone(template.get("spec") or {}),
    }


def is_terminating(pod: Object) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def is_finished(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: Object) -> bool:
    """Counts toward a controller's replicas: not finished, not being deleted."""
    return not is_terminating(pod) and not is_finished(pod)


is_ready = meta.is_ready


def is_available(pod: Object, min_ready_seconds: int, now: datetime.datetime) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    ready = meta.condition(pod, "Ready") or {}
    since = ready.get("lastTransitionTime")
    if not since:
        return False
    return (now - meta.parse_time(since)).total_seconds() >= min_ready_seconds


def ready_for(pod: Object, min_ready_seconds: int, now: datetime.datetime) -> float:
    """Seconds until a ready pod becomes available (0 when it is)."""
    ready = meta.condition(pod, "Ready") or {}
    since = ready.get("lastTransitionTime")
    if not since or not is_ready(pod):
        return float(min_ready_seconds)
    waited = (now - meta.parse_time(since)).total_seconds()
    return max(0.0, min_ready_seconds - waited)


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Object) -> tuple[Any, ...]:
    """Sort key: pods to delete first come first (upstream's order: not yet scheduled,
    pending, not ready, more restarts, newer)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts = sum(int(c.get("restartCount", 0)) for c in status.get("containerStatuses") or [])
    created = pod.get("metadata", {}).get("creationTimestamp", "")
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_RANK.get(status.get("phase", "Pending"), 0),
        1 if is_ready(pod) else 0,
        -restarts,
        _negated(created),
    )


def _negated(timestamp: str) -> tuple[int, ...]:
    """Newer first: invert the characters of an RFC 3339 string."""
    return tuple(-ord(c) for c in timestamp)


def selector_matches(selector: Object | None, labels: dict[str, str]) -> bool:
    """A LabelSelector object (matchLabels and matchExpressions); an empty or missing
    selector matches nothing, as controllers treat it."""
    if not selector:
        return False
    return from_label_selector(selector).matches(labels)
