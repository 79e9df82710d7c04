"""A cluster across two Docker engines: `ku7s create node --docker-host ssh://...` starts a
worker on the second engine, the hosts' gateways join their networks over VXLAN, and a
Service's pods on both hosts answer clients on either."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import gateway_name
from tests.e2e.conftest import Cluster, new_cluster, run_ku7s, unique
from tests.e2e.docker_hosts import composed_docker_host
from tests.e2e.ssh_machines import Machine, cluster_config, docker_sh
from tests.e2e.test_chaos import chaos, injected
from tests.e2e.test_networking import apply, echo_server, fetch, in_pod

SPREAD_ECHO = """
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: http}]
"""


def cluster_objects_on(host_sh, cluster: str) -> str:
    """What the second engine still holds of the cluster: containers, networks, volumes."""
    return host_sh(
        f"docker ps -aq --filter label=io.ku7s.cluster={cluster}; "
        f"docker network ls -q --filter label=io.ku7s.cluster={cluster}; "
        f"docker volume ls -q --filter label=io.ku7s.cluster={cluster}"
    ).strip()


@pytest.fixture
def second_host(
    docker_services,
    docker_compose_project_name: str,
    provider: DockerProvider,
    client_key: tuple[Path, paramiko.RSAKey],
) -> Iterator[tuple[Machine, str]]:
    """The second Docker host (pytest-docker), and this machine's address on its network."""
    with composed_docker_host(provider, docker_compose_project_name, client_key[0]) as found:
        yield found


def test_a_cluster_spans_two_docker_hosts(
    provider: DockerProvider, node_image: str, tmp_path: Path, second_host: tuple[Machine, str]
):
    host, address = second_host
    config = cluster_config(tmp_path, address)
    with new_cluster(provider, tmp_path, "hosts", "--config", str(config)) as cluster:
        added = run_ku7s(
            "create", "node", "--name", cluster.name, *host.docker_host_args(),
            env=cluster.env, timeout=600,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        remote = added.stdout.strip()
        # The worker is a container of the second engine, not of this one.
        assert remote in host.sh("docker ps --format '{{.Names}}'").split()
        assert not provider.container_exists(remote)
        listed = run_ku7s("get", "nodes", "--name", cluster.name, env=cluster.env)
        assert [remote, "docker", host.address] in [
            line.split() for line in listed.stdout.splitlines()
        ]
        local = f"{cluster.name}-worker"
        assert cluster.node_ready() == {local: "True", remote: "True"}

        _image_loaded_elsewhere(provider, cluster, remote)

        record = cluster.get_json("configmap", "ku7s-docker-hosts", "-n", "kube-system")
        hosts = json.loads(record["data"]["hosts.json"])
        [remote_subnet] = [h["subnet"] for h in hosts if h["url"]]

        def routed_to_remote() -> bool:
            return docker_sh(local, "ip route show proto 77").count(remote_subnet) == 1

        cluster.wait_for(routed_to_remote, 30, what=f"a route to {remote_subnet}")

        ns, names = _service_across_hosts(cluster, tmp_path, local, remote)
        _chaos_across_hosts(cluster, host, ns, local, remote)

        # Gateways restarted (or moved) pick up where they were: device, entries, routes.
        provider.client.containers.get(gateway_name(cluster.name)).restart(timeout=1)
        host.sh(f"docker restart -t 1 {gateway_name(cluster.name)}")
        cluster.wait_for(
            lambda: (
                {fetch(cluster, ns, "client-worker", "http://echo/") for _ in range(8)} == names
            ),
            60,
            what="the service across hosts after the gateways restarted",
        )

        deleted = run_ku7s(
            "delete", "node", remote, "--name", cluster.name, env=cluster.env, timeout=120
        )
        assert deleted.returncode == 0, deleted.stderr
        # The last node there: the host keeps nothing of the cluster, and this host's
        # gateway, the record and the routes to the other host go too.
        assert cluster_objects_on(host.sh, cluster.name) == ""
        assert not provider.container_exists(gateway_name(cluster.name))
        assert remote not in cluster.node_ready()
        cluster.wait_for(lambda: not routed_to_remote(), 30, what="the route to go")


def _service_across_hosts(
    cluster: Cluster, tmp_path: Path, local: str, remote: str
) -> tuple[str, set[str]]:
    """Two echo pods, one per host, behind a Service: clients on both hosts reach both, by
    pod address, by Service name, and through cluster DNS; exec reaches the remote pod."""
    ns = unique("hosts")
    cluster.kubectl("create", "namespace", ns)
    servers = echo_server(cluster, ns, tmp_path, replicas=2)
    assert {p["spec"]["nodeName"] for p in servers} == {local, remote}, "not spread"
    apply(cluster, ns, SPREAD_ECHO, tmp_path)
    names = {p["metadata"]["name"] for p in servers}
    for node in (local, remote):
        client = f"client-{node.rsplit('-', 1)[1]}"
        cluster.pinned_pod(client, node, ns)
        for pod in servers:
            assert (
                fetch(cluster, ns, client, f"http://{pod['status']['podIP']}:8080/")
                == (pod["metadata"]["name"])
            )
        answers = {fetch(cluster, ns, client, "http://echo/") for _ in range(12)}
        assert answers == names, f"from {node}"
        assert fetch(cluster, ns, client, f"http://echo.{ns}.svc.cluster.local/") in names
    [there] = [p["metadata"]["name"] for p in servers if p["spec"]["nodeName"] == remote]
    assert cluster.kubectl("logs", "-n", ns, there).returncode == 0
    return ns, names


def _chaos_across_hosts(cluster: Cluster, host: Machine, ns: str, local: str, remote: str) -> None:
    """`ku7s chaos` reaches the node on the other engine: a pause holds its container there
    and reverts; a partition between the hosts' nodes cuts their pods apart until it ends."""

    def state() -> str:
        return host.sh(f"docker inspect -f '{{{{.State.Status}}}}' {remote}").strip()

    run = chaos(cluster, "pause", remote, "--duration", "2s")
    injected(run)
    assert state() == "paused"
    _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert state() == "running"

    [there] = [
        p["status"]["podIP"]
        for p in cluster.get_json("pods", "-n", ns, "-l", "app=echo")["items"]
        if p["spec"]["nodeName"] == remote
    ]

    def reached() -> bool:
        url = f"http://{there}:8080/"
        return in_pod(cluster, ns, "client-worker", f"wget -T 3 -qO- {url}", check=False) != ""

    run = chaos(cluster, "partition", remote, "--target", local, "--duration", "60s")
    injected(run)
    try:
        assert not reached(), "the partition let a request through"
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C: reverted on the way out
        out, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "reverted partition" in out, err
    cluster.wait_for(reached, 20, what="the pod across hosts after the partition")


def _image_loaded_elsewhere(provider: DockerProvider, cluster: Cluster, remote: str) -> None:
    """`ku7s load image` reaches the node on the other engine too, and a pod runs it there."""
    assert run_ku7s("load", "image", "busybox", "--name", cluster.name).returncode == 0
    tag = f"ku7s-test/hello:{unique('t')}"
    provider.client.images.get("busybox:latest").tag(tag)
    try:
        loaded = run_ku7s("load", "image", tag, "--name", cluster.name, env=cluster.env)
        assert loaded.returncode == 0, loaded.stderr
        assert f"{tag} loaded on {remote}" in loaded.stdout
        cluster.pinned_pod("hello", remote, image=tag)
        cluster.kubectl("delete", "pod", "hello", "--wait=false")
    finally:
        provider.client.images.remove(tag)
