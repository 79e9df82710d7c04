"""Benchmark: machines joined over SSH, on a fresh cluster of 1 worker.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_ssh.py

1. `ku7s create node --provider ssh` until the node is Ready, on a plain Debian machine (sshd
   only: the packages are installed from Debian's mirror) and on one that already has them;
   and `ku7s delete node` on each. The node agent's wheel is built before the clock starts.
2. TCP throughput between pods: a busybox pod on a container worker downloads 500 MiB from
   nginx in a pod on the SSH machine, against the same from nginx on another container
   node (three rounds each). All of it on this one host: the figures compare the paths,
   not the machines.

The machines are containers started as the e2e tests start theirs (tests/e2e/ssh_vm).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paramiko

# Run as a script, this directory is on the path.
from bench_apiserver import ku7s

from ku7s.cluster.images import ImageBuilder
from ku7s.cluster.providers.docker import DockerProvider, NodeSpec
from ku7s.cluster.providers.ssh import fingerprint
from ku7s.cluster.ssh_node import PACKAGES
from ku7s.names import network_name

ROOT = Path(__file__).resolve().parents[2]
VM_DIR = ROOT / "tests" / "e2e" / "ssh_vm"
PLAIN = ["iptables", "openssh-server", "sudo"]
MIB = 500


def machine(
    provider: DockerProvider, cluster: str, packages: list[str], key: paramiko.PKey
) -> tuple[str, str, str]:
    """Start a machine; return its name, address and host key fingerprint."""
    base = ImageBuilder(provider.client).ensure_debian("ku7s/debian", packages).image
    image = f"ku7s-test/vm:{base.split(':')[1]}"
    provider.client.images.build(
        path=str(VM_DIR), tag=image, buildargs={"BASE_IMAGE": base}, rm=True
    )
    name = f"{cluster}-m{secrets.token_hex(2)}"
    provider.create_node(
        NodeSpec(
            name=name,
            cluster=cluster,
            role="machine",
            image=image,
            network=network_name(cluster),
            env={"AUTHORIZED_KEY": f"{key.get_name()} {key.get_base64()}"},
            volume=f"{name}-var-lib",
            volume_path="/var/lib",
        )
    )
    for _ in range(100):
        found = subprocess.run(["docker", "exec", name, "pgrep", "-x", "sshd"], capture_output=True)
        if found.returncode == 0:
            break
        time.sleep(0.1)
    line = subprocess.run(
        ["docker", "exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kind, data = line.split()[:2]
    pinned = fingerprint(paramiko.PKey.from_type_string(kind, base64.b64decode(data)))
    return name, provider.address_on(name, network_name(cluster)), pinned


def timed(*args: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ku7s", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return round(time.monotonic() - started, 1)


def kubectl(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["kubectl", *args], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout


def pod_on(env: dict[str, str], name: str, node: str, image: str, *command: str) -> str:
    overrides = json.dumps({"spec": {"nodeName": node}})
    kubectl(env, "run", name, f"--image={image}", f"--overrides={overrides}", *command)
    kubectl(env, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
    return json.loads(kubectl(env, "get", "pod", name, "-o", "json"))["status"]["podIP"]


def server_on(env: dict[str, str], name: str, node: str) -> str:
    """nginx on the node, serving a file of MIB MiB; its pod IP."""
    address = pod_on(env, name, node, "nginx:latest")
    big = "/usr/share/nginx/html/big"
    kubectl(env, "exec", name, "--", "dd", "if=/dev/zero", f"of={big}", "bs=1M", f"count={MIB}")
    return address


def throughput(env: dict[str, str], client: str, server_ip: str) -> float:
    """MiB/s of one download (busybox has no sub-second date: the kernel's uptime, to the
    hundredth, brackets the transfer)."""
    script = (
        "cut -d' ' -f1 /proc/uptime; "
        f"wget -q -O /dev/null http://{server_ip}/big; "
        "cut -d' ' -f1 /proc/uptime"
    )
    started, ended = kubectl(env, "exec", client, "--", "sh", "-c", script).split()[-2:]
    return round(MIB / (float(ended) - float(started)), 1)


def main() -> None:
    provider = DockerProvider.connect()
    name = f"sshbench-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp())
    env = {"KUBECONFIG": str(work / "kubeconfig")}
    key = paramiko.RSAKey.generate(2048)
    identity = work / "id_rsa"
    key.write_private_key_file(str(identity))
    ku7s("create", "cluster", "--name", name, "--workers", "2", env=env)
    figures: dict[str, object] = {}
    try:
        ImageBuilder(provider.client).agent_wheel()  # off the clock
        for label, packages in (
            ("packages_to_install", PLAIN),
            ("packages_present", sorted({*PLAIN, *PACKAGES})),
        ):
            vm, address, pinned = machine(provider, name, packages, key)
            ssh = [
                "--host",
                f"deploy@{address}",
                "--identity",
                str(identity),
                "--fingerprint",
                pinned,
            ]
            join = timed("create", "node", "--name", name, "--provider", "ssh", *ssh, env=env)
            node = json.loads(
                kubectl(env, "get", "nodes", "-l", "ku7s.dev/provider=ssh", "-o", "json")
            )["items"][0]["metadata"]["name"]
            figures[f"join_s_{label}"] = join
            if label == "packages_present":
                workers = [f"{name}-worker", f"{name}-worker2"]
                on_machine = server_on(env, "srv-machine", node)
                on_worker2 = server_on(env, "srv-worker2", workers[1])
                pod_on(env, "client", workers[0], "busybox", "--", "sleep", "3600")
                figures["pod_to_pod_MiB_s_container_to_machine"] = [
                    throughput(env, "client", on_machine) for _ in range(3)
                ]
                figures["pod_to_pod_MiB_s_container_to_container"] = [
                    throughput(env, "client", on_worker2) for _ in range(3)
                ]
                kubectl(
                    env, "delete", "pod", "srv-machine", "srv-worker2", "client", "--wait=false"
                )
            figures[f"delete_s_{label}"] = timed(
                "delete",
                "node",
                node,
                "--name",
                name,
                "--identity",
                str(identity),
                "--fingerprint",
                pinned,
                env=env,
            )
            provider.remove_containers([vm])
            provider.client.volumes.get(f"{vm}-var-lib").remove(force=True)
        print(json.dumps(figures, indent=2))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
