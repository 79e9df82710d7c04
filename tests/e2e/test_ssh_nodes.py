"""A machine joined over SSH: `ku7s create node --provider ssh` turns a plain Debian machine
(sshd only) into a Ready worker whose pods reach and are reached by pods on container
nodes; `ku7s delete node` leaves it as it was.

The machine is a container from the same plain image as test_ssh_provider's, started with a
node container's privileges (nested containerd needs them, and compose cannot express
``systempaths=unconfined`` on this engine) on the cluster's network, with a volume for
/var/lib (overlayfs cannot nest on the container's own overlay root)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import network_name
from tests.e2e.conftest import Cluster, new_cluster, run_ku7s
from tests.e2e.ssh_machines import Machine, cluster_config, started_machine

APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: web}}}
      containers: [{name: nginx, image: nginx:latest}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


@pytest.fixture(scope="module")
def ssh_cluster(
    provider: DockerProvider, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with new_cluster(provider, tmp_path_factory.mktemp("sshnodes"), "sshn", "--workers", "1") as c:
        yield c


@pytest.fixture(scope="module")
def machine(
    provider: DockerProvider, ssh_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Machine]:
    network = network_name(ssh_cluster.name)
    with started_machine(provider, ssh_cluster.name, network, tmp_path_factory.mktemp("vm")) as m:
        yield m


def test_bad_input_installs_nothing(ssh_cluster: Cluster, machine: Machine):
    cluster = ssh_cluster
    for args, message in (
        (["--provider", "ssh"], "--provider ssh needs --host"),
        (["--host", machine.address], "--host, --node-name and --control-plane-address need"),
        (
            [
                "--provider",
                "ssh",
                "--host",
                f"root@{machine.address}",
                "--identity",
                str(machine.identity),
            ],
            "unknown host key SHA256:",
        ),
        (
            ["--provider", "ssh", *machine.ssh_args("guest")],
            "is not root and has no passwordless sudo",
        ),
    ):
        result = run_ku7s("create", "node", "--name", cluster.name, *args, env=cluster.env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert message in result.stderr and result.stderr.count("ERROR:") == 1, result.stderr
    assert machine.sh("ls /opt /etc/ku7s 2>&1").split() == [
        "ls:", "cannot", "access", "'/etc/ku7s':", "No", "such", "file", "or", "directory", "/opt:"
    ]  # fmt: skip


def test_a_machine_joins_runs_pods_and_leaves_clean(ssh_cluster: Cluster, machine: Machine):
    cluster = ssh_cluster
    # Rules and the chains ku7s makes (a table iptables created empty is not a rule).
    # (pam_motd writes /run/motd.dynamic at the first login, whoever logs in)
    state = "iptables-save | grep -E '^-A|^:[^ ]+ -' | sort; ls /opt /run /var/lib | grep -v motd"
    before = machine.sh(state)
    joined = run_ku7s(
        "create", "node", "--name", cluster.name, "--provider", "ssh", *machine.ssh_args(),
        env=cluster.env, timeout=600,
    )  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    node = joined.stdout.strip()
    assert cluster.node_ready()[node] == "True"
    listed = run_ku7s("get", "nodes", "--name", cluster.name, env=cluster.env).stdout
    assert f"ssh deploy@{machine.address}:22" in listed

    manifest = cluster.cache_dir.parent / f"{node}-app.yaml"
    manifest.write_text(APP)
    cluster.kubectl("apply", "-f", str(manifest))
    cluster.kubectl("rollout", "status", "deploy/web", "--timeout=120s", timeout=130)
    pods = cluster.get_json("pods", "-l", "app=web")["items"]
    placed = {p["spec"]["nodeName"]: p for p in pods}
    [worker] = cluster.workers
    assert set(placed) == {node, worker}
    on_machine = placed[node]
    # From a pod on the container node: the Service (both backends) and the machine's pod.
    probe = (
        "for i in 1 2 3 4 5 6; do wget -T 3 -qO- http://web >/dev/null && echo ok; done; "
        f"wget -T 3 -qO- http://{on_machine['status']['podIP']} >/dev/null && echo direct"
    )
    cluster.pinned_pod("probe", worker)
    out = cluster.kubectl("exec", "probe", "--", "sh", "-c", probe, timeout=60).stdout
    assert out.split() == ["ok"] * 6 + ["direct"], out
    name = on_machine["metadata"]["name"]
    assert "nginx version" in cluster.kubectl("exec", name, "--", "nginx", "-v").stderr
    cluster.kubectl("delete", "-f", str(manifest), "--wait=false")
    cluster.kubectl("delete", "pod", "probe", "--wait=false")

    deleted = run_ku7s(
        "delete", "node", node, "--name", cluster.name, *machine.key_args(),
        env=cluster.env, timeout=300,
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    assert node not in cluster.node_ready()
    # Nothing of ku7s is left: processes, files, mounts, rules, packages, the hosts line.
    assert machine.sh(state) == before
    assert machine.sh("ps -e -o comm= | sort -u").split() == ["ps", "sh", "sort", "sshd"]
    assert machine.sh("grep -c ku7s /etc/hosts /proc/mounts").split() == [
        "/etc/hosts:0",
        "/proc/mounts:0",
    ]
    assert "ii" not in machine.sh("dpkg -l containerd runc python3 2>/dev/null | grep ^ii")


def test_a_machine_elsewhere_joins_through_the_published_node_service(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    """networking.nodeServiceAddress publishes the API and node service on a host address
    (here Docker's default bridge's), and a machine on another network joins through it.
    Without a route between the networks, its pods run but are not reachable from the
    others (the overlay between Docker hosts is for container nodes)."""
    gateway = provider.client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    config = cluster_config(tmp_path, gateway)
    outside = provider.client.networks.create(f"ku7s-outside-{secrets.token_hex(3)}")
    try:
        with (
            new_cluster(provider, tmp_path, "sshp", "--config", str(config)) as cluster,
            started_machine(provider, cluster.name, outside.name, tmp_path) as machine,
        ):
            joined = run_ku7s(
                "create", "node", "--name", cluster.name, "--provider", "ssh",
                *machine.ssh_args(), env=cluster.env, timeout=600,
            )  # fmt: skip
            assert joined.returncode == 0, joined.stderr
            node = joined.stdout.strip()
            assert f"{gateway} {cluster.name}-control-plane" in machine.sh("cat /etc/hosts")
            cluster.pinned_pod("there", node, image="nginx:latest", command=())
            deleted = run_ku7s(
                "delete", "node", node, "--name", cluster.name,
                *machine.ssh_args()[2:], env=cluster.env, timeout=300,
            )  # fmt: skip
            assert deleted.returncode == 0, deleted.stderr
            assert "ku7s" not in machine.sh("cat /etc/hosts; ls /opt /etc")
    finally:
        outside.remove()
