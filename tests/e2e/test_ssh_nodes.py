"""A machine joined over SSH: `ku7s create node --provider ssh` turns a plain Debian machine
(sshd only) into a Ready worker whose pods reach and are reached by pods on container
nodes; `ku7s delete node` leaves it as it was.

The machine is a container from the same plain image as test_ssh_provider's, started with a
node container's privileges (nested containerd needs them, and compose cannot express
``systempaths=unconfined`` on this engine) on the cluster's network, with a volume for
/var/lib (overlayfs cannot nest on the container's own overlay root)."""

from __future__ import annotations

import base64
import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import paramiko
import pytest

from ku7s.cluster.providers.docker import DockerProvider, NodeSpec
from ku7s.cluster.providers.ssh import fingerprint
from ku7s.names import network_name
from tests.e2e.conftest import Cluster, new_cluster, run_ku7s
from tests.e2e.ssh_machines import VM_DIR, plain_debian

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


@dataclass
class Machine:
    name: str
    address: str
    identity: Path
    fingerprint: str

    def sh(self, command: str) -> str:
        return docker_sh(self.name, command)


def docker_sh(container: str, command: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, "sh", "-c", command], capture_output=True, text=True
    ).stdout


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
    base = plain_debian(provider)
    image = f"ku7s-test/vm:{base.split(':')[1]}"
    provider.client.images.build(
        path=str(VM_DIR), tag=image, buildargs={"BASE_IMAGE": base}, rm=True
    )
    identity = tmp_path_factory.mktemp("machine") / "id_rsa"
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(identity))
    name = f"{ssh_cluster.name}-vm-{secrets.token_hex(2)}"
    volume = f"{name}-var-lib"
    provider.create_node(
        NodeSpec(
            name=name,
            cluster=ssh_cluster.name,
            role="machine",
            image=image,
            network=network_name(ssh_cluster.name),
            env={"AUTHORIZED_KEY": f"{key.get_name()} {key.get_base64()}"},
            volume=volume,
            volume_path="/var/lib",
        )
    )
    try:
        ssh_cluster.wait_for(
            lambda: docker_sh(name, "pgrep -x sshd"), timeout=20, interval=0.2, what="sshd"
        )
        # The host key, read out of band as an administrator would give it.
        kind, data = docker_sh(name, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
        pinned = fingerprint(paramiko.PKey.from_type_string(kind, base64.b64decode(data)))
        address = provider.address_on(name, network_name(ssh_cluster.name))
        yield Machine(name, address, identity, pinned)
    finally:
        provider.remove_containers([name])
        with contextlib.suppress(docker.errors.NotFound):
            provider.client.volumes.get(volume).remove(force=True)


def ssh_args(machine: Machine, user: str = "deploy") -> list[str]:
    return [
        "--host",
        f"{user}@{machine.address}",
        "--identity",
        str(machine.identity),
        "--fingerprint",
        machine.fingerprint,
    ]


def test_bad_input_installs_nothing(ssh_cluster: Cluster, machine: Machine):
    cluster = ssh_cluster
    for args, message in (
        (["--provider", "ssh"], "--provider ssh needs --host"),
        (["--host", machine.address], "--host and the other SSH options need --provider ssh"),
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
            ["--provider", "ssh", *ssh_args(machine, "guest")],
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
    state = "iptables-save | grep -E '^-A|^:[^ ]+ -' | sort; ls /opt /run /var/lib"
    before = machine.sh(state)
    joined = run_ku7s(
        "create", "node", "--name", cluster.name, "--provider", "ssh", *ssh_args(machine),
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
        "for i in 1 2 3 4 5 6; do timeout 3 wget -qO- http://web >/dev/null && echo ok; done; "
        f"timeout 3 wget -qO- http://{on_machine['status']['podIP']} >/dev/null && echo direct"
    )
    overrides = f'{{"spec":{{"nodeName":"{worker}"}}}}'
    cluster.kubectl(
        "run", "probe", "--image=busybox", f"--overrides={overrides}", "--", "sleep", "3600"
    )
    cluster.kubectl("wait", "--for=condition=Ready", "pod/probe", "--timeout=60s", timeout=70)
    out = cluster.kubectl("exec", "probe", "--", "sh", "-c", probe, timeout=60).stdout
    assert out.split() == ["ok"] * 6 + ["direct"], out
    name = on_machine["metadata"]["name"]
    assert "nginx version" in cluster.kubectl("exec", name, "--", "nginx", "-v").stderr
    cluster.kubectl("delete", "-f", str(manifest), "--wait=false")
    cluster.kubectl("delete", "pod", "probe", "--wait=false")

    deleted = run_ku7s(
        "delete", "node", node, "--name", cluster.name, "--identity", str(machine.identity),
        "--fingerprint", machine.fingerprint, env=cluster.env, timeout=300,
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
