"""Whether a node is one a pod spec asks for: spec.nodeSelector and required node
affinity terms, as the scheduler and the DaemonSet controller both decide it."""

from __future__ import annotations

from typing import Any

from ku7s.api import meta

Object = dict[str, Any]


def expression_matches(expression: Object, value: str | None) -> bool:
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
    if not all(expression_matches(e, labels.get(e.get("key", ""))) for e in expressions):
        return False
    node_fields = {"metadata.name": meta.name_of(node)}
    return all(expression_matches(f, node_fields.get(f.get("key", ""))) for f in fields)


def node_affinity(spec: Object) -> Object:
    return dict((spec.get("affinity") or {}).get("nodeAffinity") or {})


def selects_node(spec: Object, node: Object) -> bool:
    """nodeSelector and the required node affinity terms of a pod spec both allow node."""
    selector = spec.get("nodeSelector")
    if selector:
        labels = node.get("metadata", {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return False
    affinity = spec.get("affinity")
    if not affinity:
        return True
    required = node_affinity(spec).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])
    return True
