"""An HPA's behavior: stabilization windows (scale up to the lowest, down to the highest
recommendation seen within the window) and rate policies (at most so many pods or percent
per period, the most or the least of them, or no change in that direction). Remembers
recent recommendations and scale events per autoscaler, as upstream's controller does in
memory."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]

#: What applies when spec.behavior is not given (upstream's defaults).
DEFAULT_SCALE_UP: Object = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
DEFAULT_SCALE_DOWN: Object = {
    "stabilizationWindowSeconds": 300,
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def rules(spec: Object) -> tuple[Object, Object]:
    behavior = spec.get("behavior") or {}
    return behavior.get("scaleUp") or DEFAULT_SCALE_UP, behavior.get(
        "scaleDown"
    ) or DEFAULT_SCALE_DOWN


@dataclass
class _History:
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    #: (when, replicas added (positive) or removed (negative))
    events: list[tuple[float, int]] = field(default_factory=list)


class ScalingBehavior:
    def __init__(self) -> None:
        self._history: dict[str, _History] = {}

    def forget(self, key: str) -> None:
        self._history.pop(key, None)

    def decide(self, key: str, spec: Object, current: int, desired: int, now: float) -> int:
        """The replicas to go to, from what the metrics ask for."""
        up, down = rules(spec)
        history = self._history.setdefault(key, _History())
        stabilized = self._stabilize(history, up, down, current, desired, now)
        return self._limit(history, up, down, current, stabilized, now)

    def scaled(self, key: str, old: int, new: int, now: float) -> None:
        """Remember a scale, for the rate policies."""
        self._history.setdefault(key, _History()).events.append((now, new - old))

    @staticmethod
    def _stabilize(
        history: _History, up: Object, down: Object, current: int, desired: int, now: float
    ) -> int:
        up_window = int(up.get("stabilizationWindowSeconds") or 0)
        down_window = int(down.get("stabilizationWindowSeconds") or 0)
        longest = max(up_window, down_window)
        history.recommendations = [(t, n) for t, n in history.recommendations if now - t <= longest]
        history.recommendations.append((now, desired))
        up_to = min(n for t, n in history.recommendations if now - t <= up_window)
        down_to = max(n for t, n in history.recommendations if now - t <= down_window)
        result = current
        if result < up_to:
            result = up_to
        if result > down_to:
            result = down_to
        return result

    @staticmethod
    def _limit(
        history: _History, up: Object, down: Object, current: int, desired: int, now: float
    ) -> int:
        longest = max(
            (int(p.get("periodSeconds", 0)) for r in (up, down) for p in r.get("policies") or []),
            default=0,
        )
        history.events = [(t, change) for t, change in history.events if now - t <= longest]
        if desired > current:
            return min(desired, _bound(history, up, current, now, growing=True))
        if desired < current:
            return max(desired, _bound(history, down, current, now, growing=False))
        return desired


def _bound(history: _History, rules_: Object, current: int, now: float, *, growing: bool) -> int:
    """How far the policies let the replicas move from current in one direction."""
    if rules_.get("selectPolicy") == "Disabled":
        return current
    proposals = []
    for policy in rules_.get("policies") or []:
        period = int(policy.get("periodSeconds", 15))
        moved = sum(c for t, c in history.events if now - t <= period and (c > 0) == growing)
        start = current - moved  # replicas at the start of the period
        value = int(policy.get("value", 0))
        if policy.get("type") == "Pods":
            proposals.append(start + value if growing else start - value)
        elif growing:
            proposals.append(math.ceil(start * (1 + value / 100)))
        else:
            proposals.append(math.floor(start * (1 - value / 100)))
    if not proposals:
        return current
    most = rules_.get("selectPolicy", "Max") == "Max"
    if growing:
        return max(proposals) if most else min(proposals)
    return min(proposals) if most else max(proposals)
