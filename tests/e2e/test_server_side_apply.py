"""Server-side apply with the real kubectl: two managers applying one Deployment meet a
conflict naming the field and its owner, --force-conflicts takes it, client-side apply
moves to server-side without conflicts, and kubectl diff shows what an apply would do."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import Cluster


def manifest(replicas: int, image: str = "busybox") -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "web", "image": image, "command": ["sleep", "3600"]}]}},
        },
    })  # fmt: skip


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("ssa") as name:
        yield name


def kubectl_with(cluster: Cluster, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cluster.kubectl_argv(), *args, "-f", "-"], input=stdin,
                          capture_output=True, text=True)  # fmt: skip


def managers(cluster: Cluster, ns: str) -> dict[str, str]:
    got = cluster.get_json("deployment/web", "-n", ns, "--show-managed-fields")
    return {e["manager"]: e["operation"] for e in got["metadata"]["managedFields"]}


def test_two_managers_conflict_and_force_takes_the_field(cluster: Cluster, ns: str):
    first = kubectl_with(cluster, manifest(2), "apply", "--server-side", "-n", ns)
    assert first.returncode == 0, first.stderr
    assert "deployment.apps/web serverside-applied" in first.stdout
    other = kubectl_with(cluster, manifest(4), "apply", "--server-side", "-n", ns,
                         "--field-manager=autoscaler")  # fmt: skip
    assert other.returncode != 0
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas'
        in (other.stderr)
    )
    forced = kubectl_with(cluster, manifest(4), "apply", "--server-side", "-n", ns,
                          "--field-manager=autoscaler", "--force-conflicts")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert cluster.get_json("deployment/web", "-n", ns)["spec"]["replicas"] == 4
    assert {"kubectl": "Apply", "autoscaler": "Apply"}.items() <= managers(cluster, ns).items()

    diff = kubectl_with(cluster, manifest(4, image="busybox:1.36"), "diff", "--server-side",
                        "-n", ns, "--field-manager=autoscaler", "--force-conflicts")  # fmt: skip
    assert diff.returncode == 1, diff.stderr  # 1: there are differences
    assert "+        image: busybox:1.36" in diff.stdout


def test_client_side_apply_moves_to_server_side(cluster: Cluster, ns: str):
    client_side = kubectl_with(cluster, manifest(1), "apply", "-n", ns)
    assert client_side.returncode == 0, client_side.stderr
    assert managers(cluster, ns)["kubectl-client-side-apply"] == "Update"
    server_side = kubectl_with(cluster, manifest(1), "apply", "--server-side", "-n", ns)
    assert server_side.returncode == 0, server_side.stderr
    assert managers(cluster, ns)["kubectl"] == "Apply"
