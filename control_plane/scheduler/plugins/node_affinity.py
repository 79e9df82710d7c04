"""spec.nodeSelector and node affinity: required terms filter, preferred terms score."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, Object, PodInfo
from ku7s.api import meta


def _expression_matches(expression: Object, value: str | None) -> bool:
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            have, limit = int(value), int(values[0])
        except ValueError:
            return False
        return have > limit if operator == "Gt" else have < limit
    return False


def term_matches(term: Object, node: Object) -> bool:
    """A node selector term: all its expressions and fields hold (an empty term matches
    nothing, as upstream)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = meta.labels_of(node)
    if not all(_expression_matches(e, labels.get(e.get("key", ""))) for e in expressions):
        return False
    node_fields = {"metadata.name": meta.name_of(node)}
    return all(_expression_matches(f, node_fields.get(f.get("key", ""))) for f in fields)


def _affinity(pod: PodInfo) -> Object:
    return (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name: ClassVar[str] = "NodeAffinity"
    weight: ClassVar[int] = 2

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        reason = ["node(s) didn't match Pod's node affinity/selector"]
        labels = meta.labels_of(node.node)
        selector = pod.spec.get("nodeSelector") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return reason
        required = _affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is not None:
            terms = required.get("nodeSelectorTerms") or []
            if not any(term_matches(t, node.node) for t in terms):
                return reason
        return []

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        preferred = _affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
        raw = [
            sum(
                int(p.get("weight", 0))
                for p in preferred
                if term_matches(p.get("preference") or {}, node.node)
            )
            for node in nodes
        ]
        top = max(raw) if raw else 0
        if not top:
            return [0] * len(nodes)
        return [value * MAX_SCORE // top for value in raw]
