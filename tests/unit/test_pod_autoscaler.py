"""The autoscaler's arithmetic: replicas from CPU utilization and average values (with
upstream's tolerance and pods without metrics), and the behavior's windows and policies."""

from __future__ import annotations

import pytest

from control_plane.controllers.podautoscaler.replica_calculator import (
    MetricsUnavailable,
    resource_replicas,
)
from control_plane.controllers.podautoscaler.scaling_behavior import ScalingBehavior


def _pod(name: str, cpu_request: str | None = "100m") -> dict[str, object]:
    resources = {"requests": {"cpu": cpu_request}} if cpu_request else {}
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": resources}]},
        "status": {"phase": "Running"},
    }


def _metrics(**cpu: str) -> dict[str, dict[str, object]]:
    return {n: {"containers": [{"name": "c", "usage": {"cpu": v}}]} for n, v in cpu.items()}


UTILIZATION_50 = {"type": "Utilization", "averageUtilization": 50}


def test_utilization_above_target_scales_up_in_proportion():
    pods = [_pod("a"), _pod("b")]
    proposal = resource_replicas(2, UTILIZATION_50, "cpu", pods, _metrics(a="100m", b="100m"))
    assert proposal.replicas == 4
    assert proposal.current == {"averageUtilization": 100, "averageValue": "100m"}


def test_within_tolerance_nothing_changes():
    pods = [_pod("a"), _pod("b")]
    assert (
        resource_replicas(2, UTILIZATION_50, "cpu", pods, _metrics(a="54m", b="54m")).replicas == 2
    )


def test_idle_pods_scale_down_and_a_pod_without_metrics_counts_at_target():
    pods = [_pod("a"), _pod("b"), _pod("c")]
    assert (
        resource_replicas(3, UTILIZATION_50, "cpu", pods, _metrics(a="0", b="0", c="0")).replicas
        == 0
    )
    # c has no metrics: counted as using exactly the target, so fewer go.
    assert resource_replicas(3, UTILIZATION_50, "cpu", pods, _metrics(a="0", b="0")).replicas == 1


def test_a_pod_without_a_request_makes_utilization_unknown():
    with pytest.raises(MetricsUnavailable, match="missing request for cpu"):
        resource_replicas(1, UTILIZATION_50, "cpu", [_pod("a", None)], _metrics(a="10m"))


def test_average_value_targets():
    target = {"type": "AverageValue", "averageValue": "200m"}
    pods = [_pod("a"), _pod("b")]
    assert resource_replicas(2, target, "cpu", pods, _metrics(a="400m", b="400m")).replicas == 4


def test_scale_down_waits_out_its_window_and_up_is_rate_limited():
    behavior = ScalingBehavior()
    spec: dict[str, object] = {}  # upstream's defaults: down window 300 s
    assert behavior.decide("h", spec, 4, 8, now=0.0) == 8
    assert behavior.decide("h", spec, 8, 2, now=10.0) == 8  # 8 was asked for in the window
    assert behavior.decide("h", spec, 8, 2, now=311.0) == 2
    limited = {
        "behavior": {
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled",
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        }
    }  # fmt: skip
    fresh = ScalingBehavior()
    assert fresh.decide("h", limited, 1, 10, now=0.0) == 2
    fresh.scaled("h", 1, 2, now=0.0)
    assert fresh.decide("h", limited, 2, 10, now=30.0) == 2  # one pod per minute
    assert fresh.decide("h", limited, 2, 10, now=61.0) == 3
    assert fresh.decide("h", limited, 3, 1, now=62.0) == 3  # scale down disabled
