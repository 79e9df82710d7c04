"""NodeMetrics and PodMetrics (metrics.k8s.io/v1beta1), what ``kubectl top`` reads. They are
not stored: listed in discovery like any kind, answered by metrics_api.py from the
kubelets' resource metrics at the time of asking, as metrics-server answers them."""

from __future__ import annotations

from typing import ClassVar

from control_plane.apiserver.kinds.base import Kind
from control_plane.apiserver.resources import ResourceType

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
READ_ONLY_VERBS = ("get", "list")


class NodeMetricsKind(Kind):
    resource = ResourceType(
        GROUP,
        VERSION,
        "nodes",
        "",
        "NodeMetrics",
        False,
        verbs=READ_ONLY_VERBS,
        storage_name="metrics.k8s.io-nodes",
    )
    stored: ClassVar[bool] = False


class PodMetricsKind(Kind):
    resource = ResourceType(
        GROUP,
        VERSION,
        "pods",
        "",
        "PodMetrics",
        True,
        verbs=READ_ONLY_VERBS,
        storage_name="metrics.k8s.io-pods",
    )
    stored: ClassVar[bool] = False
