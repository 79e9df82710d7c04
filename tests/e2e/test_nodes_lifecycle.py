"""Nodes come and go on a live cluster; a stopped node turns NotReady and comes back."""

from __future__ import annotations

import json
import subprocess

import docker.errors
import pytest

from control_plane.cloud.docker_cloud import LB_CONFIG_PATH
from ku7s.cluster.config import NodeConfig
from ku7s.cluster.nodes import add_node
from ku7s.names import SERVICE_UID_LABEL, containerd_volume_name, network_name
from tests.e2e.conftest import Cluster, run_ku7s, unique


def load_balancer_backends(cluster: Cluster, namespace: str, service: str) -> list[str]:
    """The node addresses the Service's load balancer container sends to."""
    uid = cluster.get_json("service", service, "-n", namespace)["metadata"]["uid"]
    [container] = cluster.provider.client.containers.list(
        filters={"label": f"{SERVICE_UID_LABEL}={uid}"}
    )
    config = json.loads(cluster.provider.read_file(str(container.name), LB_CONFIG_PATH))
    return list(config["backends"])


def test_add_and_delete_a_node(cluster: Cluster):
    """The new node joins the load balancers' backends, and leaves them when deleted: a
    load balancer is updated, neither orphaned nor left sending to a node that is gone."""
    ns = unique("lbnodes")
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "service", "loadbalancer", "front", "--tcp=80:80", "-n", ns)
    added = run_ku7s(
        "create", "node", "--name", cluster.name, "--labels", "tier=extra", env=cluster.env
    )
    assert added.returncode == 0, added.stderr
    name = added.stdout.strip()
    assert name == f"{cluster.name}-worker{len(cluster.workers)}"
    address = cluster.provider.address_on(name, network_name(cluster.name))
    try:
        node = cluster.get_json("node", name)
        assert node["metadata"]["labels"]["tier"] == "extra"
        assert cluster.node_ready()[name] == "True"
        cluster.wait_for(
            lambda: address in load_balancer_backends(cluster, ns, "front"), 30,
            what="the new node among the load balancer's backends",
        )  # fmt: skip
    finally:
        deleted = run_ku7s("delete", "node", name, env=cluster.env)
    assert deleted.returncode == 0, deleted.stderr
    assert name not in cluster.node_ready()
    cluster.wait_for(
        lambda: address not in load_balancer_backends(cluster, ns, "front"), 30,
        what="the deleted node out of the load balancer's backends",
    )  # fmt: skip
    assert load_balancer_backends(cluster, ns, "front")  # the other workers are still there
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
    assert not cluster.provider.container_exists(name)
    leases = cluster.kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name").stdout
    assert name not in leases
    with pytest.raises(docker.errors.NotFound):
        cluster.provider.client.volumes.get(containerd_volume_name(name))


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_stopped_worker_turns_not_ready_and_comes_back(cluster: Cluster, how: str):
    """Within the 5 s grace when its stream closes; a killed one whose stream just goes
    silent is caught by its Lease, so the wait allows twice the grace on a busy machine
    (tests/bench/bench_chaos.py measures the times)."""
    worker, other = f"{cluster.name}-worker2", f"{cluster.name}-worker"
    subprocess.run(["docker", how, worker], check=True, capture_output=True)
    try:
        cluster.wait_for(
            lambda: cluster.node_ready()[worker] != "True", timeout=10, what=f"{worker} NotReady"
        )
        assert cluster.node_ready()[other] == "True"
    finally:
        # The cluster is shared: the worker comes back whatever happened above.
        subprocess.run(["docker", "start", worker], check=True, capture_output=True)
        cluster.wait_for(
            lambda: cluster.node_ready()[worker] == "True",
            timeout=30,
            what=f"{worker} Ready again",
        )


def test_a_silent_worker_is_caught_by_its_lease(cluster: Cluster):
    """A paused container keeps its TCP stream open; the expired Lease gives it away."""
    worker = f"{cluster.name}-worker"
    subprocess.run(["docker", "pause", worker], check=True, capture_output=True)
    try:
        took = cluster.wait_for(
            lambda: cluster.node_ready()[worker] != "True",
            timeout=8,
            what=f"{worker} NotReady while paused",
        )
        assert took < 6
    finally:
        subprocess.run(["docker", "unpause", worker], check=True, capture_output=True)
    cluster.wait_for(
        lambda: cluster.node_ready()[worker] == "True",
        timeout=15,
        what=f"{worker} Ready after unpause",
    )


def test_a_wrong_bootstrap_token_is_refused(cluster: Cluster, node_image: str):
    wrong = "abcdef.0123456789abcdef"
    name = add_node(
        cluster.provider, cluster.name, NodeConfig("worker"), image=node_image, wait=0, token=wrong
    )
    try:

        def refused() -> bool:
            log = subprocess.run(
                ["docker", "exec", name, "cat", "/var/log/ku7s/kubelet.log"],
                capture_output=True,
                text=True,
            ).stdout
            return "invalid bootstrap token" in log

        cluster.wait_for(refused, timeout=30, what="the join to be refused")
        assert name not in cluster.node_ready()
        assert (
            "refused join"
            in subprocess.run(
                [
                    "docker",
                    "exec",
                    f"{cluster.name}-control-plane",
                    "cat",
                    "/var/log/ku7s/kube-apiserver.log",
                ],
                capture_output=True,
                text=True,
            ).stdout
        )
    finally:
        cluster.provider.remove_containers([name])
        cluster.provider.remove_volume(containerd_volume_name(name))


def test_the_control_plane_cannot_be_deleted_as_a_node(cluster: Cluster):
    result = run_ku7s("delete", "node", f"{cluster.name}-control-plane", env=cluster.env)
    assert result.returncode == 1
    assert result.stderr.startswith("ERROR:") and "delete cluster" in result.stderr
    assert cluster.provider.container_exists(f"{cluster.name}-control-plane")
