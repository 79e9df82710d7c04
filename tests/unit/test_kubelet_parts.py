"""The kubelet's pure parts: its settings from the environment and the CNI config."""

from __future__ import annotations

import json

from node_image.kubelet import cni
from node_image.kubelet.__main__ import parse_labels, parse_taints, settings_from_env
from node_image.kubelet.node_info import NodeSettings, registration


def test_settings_from_env():
    settings = settings_from_env(
        {
            "KU7S_NODE_NAME": "dev-worker",
            "KU7S_CLUSTER": "dev",
            "KU7S_NODE_LABELS": "tier=frontend,zone=a",
            "KU7S_NODE_TAINTS": "dedicated=gpu:NoSchedule,spot:NoExecute",
            "KU7S_NODE_CPU": "500m",
            "KU7S_NODE_MEMORY": "",
        }
    )
    assert settings.labels == {"tier": "frontend", "zone": "a"}
    assert settings.taints == [("dedicated", "gpu", "NoSchedule"), ("spot", "", "NoExecute")]
    assert settings.cpu == "500m" and settings.memory is None
    assert parse_labels("") == {} and parse_taints("") == []


def test_registration_reports_configured_capacity():
    reg = registration(
        NodeSettings("w1", "dev", {"a": "b"}, [], cpu="500m", memory="512Mi"), "containerd://1.6.20"
    )
    assert reg.capacity["cpu"] == "500m"
    assert reg.capacity["memory"] == "524288Ki"
    assert reg.allocatable == reg.capacity
    assert reg.labels["a"] == "b" and reg.labels["kubernetes.io/hostname"] == "w1"
    assert reg.provider_id == "ku7s://dev/w1"
    assert reg.node_info.container_runtime_version == "containerd://1.6.20"


def test_cni_config_uses_the_pod_cidr(tmp_path):
    assert cni.write_config(tmp_path, "10.244.3.0/24")
    assert not cni.write_config(tmp_path, "10.244.3.0/24")  # unchanged
    config = json.loads((tmp_path / cni.CONFIG_NAME).read_text())
    bridge = config["plugins"][0]
    assert bridge["type"] == "bridge"
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
