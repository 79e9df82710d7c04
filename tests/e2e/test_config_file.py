"""A config file sets node labels, taints, resources, subnets and the API server port."""

from __future__ import annotations

import json
import subprocess

import yaml

from ku7s.cluster.ports import free_port
from tests.e2e.conftest import new_cluster


def test_config_file_shapes_the_cluster(provider, node_image, scratch_dir):
    port = free_port()
    config = scratch_dir / "cluster.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "Cluster",
                "apiVersion": "ku7s.dev/v1alpha1",
                "networking": {
                    "podSubnet": "10.50.0.0/16",
                    "serviceSubnet": "10.60.0.0/16",
                    "apiServerPort": port,
                },
                "nodes": [
                    {"role": "control-plane"},
                    {
                        "role": "worker",
                        "labels": {"tier": "frontend"},
                        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
                        "resources": {"cpu": "1", "memory": "256Mi"},
                    },
                ],
            }
        )
    )
    with new_cluster(provider, scratch_dir, "cfg", "--config", str(config)) as cluster:
        node = cluster.get_json("node", f"{cluster.name}-worker")
        assert node["metadata"]["labels"]["tier"] == "frontend"
        assert node["spec"]["taints"] == [
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
        ]
        assert node["status"]["capacity"]["cpu"] == "1"
        assert node["status"]["capacity"]["memory"] == "262144Ki"
        assert node["spec"]["podCIDR"].startswith("10.50.")
        inspect = json.loads(
            subprocess.run(
                ["docker", "inspect", f"{cluster.name}-worker"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )[0]
        assert inspect["HostConfig"]["Memory"] == 256 * 2**20
        assert inspect["HostConfig"]["NanoCpus"] == 10**9
        kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{port}"
