from __future__ import annotations

import pytest

from control_plane.apiserver import tables
from control_plane.apiserver.kinds import builtin_kinds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (10 * 3600, "10h"),
        (50 * 3600, "2d2h"),
        (10 * 86400, "10d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds, text):
    assert tables.human_duration(seconds) == text


def test_node_row_status_and_roles():
    types = builtin_kinds()
    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"node-role.kubernetes.io/worker": ""},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "Unknown"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0"},
        },
    }
    nodes = types.get("nodes")
    table = tables.to_table(nodes.columns, nodes.row, [node], resource_version="7")
    cells = table["rows"][0]["cells"]
    assert cells[:3] == ["n1", "NotReady,SchedulingDisabled", "worker"]
    assert cells[4] == "v1.33.0"
    assert table["metadata"]["resourceVersion"] == "7"
