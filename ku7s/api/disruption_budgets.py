"""What the eviction subresource and the disruption controller agree on about a
PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

from ku7s.api import meta
from ku7s.api.selectors import SelectorError, from_label_selector

Object = dict[str, Any]


def budget_selects(budget: Object, pod: Object) -> bool:
    """A budget without a selector selects nothing; an empty one selects every pod of its
    namespace."""
    selector = (budget.get("spec") or {}).get("selector")
    if selector is None:
        return False
    try:
        return from_label_selector(selector).matches(meta.labels_of(pod))
    except SelectorError:
        return False
