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

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this directory is on the path; the repository root too, for the tests'
# machine helper.
from bench_apiserver import ku7s

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ku7s.cluster.images import ImageBuilder
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.ssh_node import PACKAGES
from ku7s.names import network_name
from tests.e2e.ssh_machines import VM_PACKAGES, started_machine

MIB = 500


def timed(*args: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    ku7s(*args, env=env)
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
    ku7s("create", "cluster", "--name", name, "--workers", "2", env=env)
    figures: dict[str, object] = {}
    try:
        ImageBuilder(provider.client).agent_wheel()  # off the clock
        for label, packages in (
            ("packages_to_install", VM_PACKAGES),
            ("packages_present", sorted({*VM_PACKAGES, *PACKAGES})),
        ):
            with started_machine(provider, name, network_name(name), work, packages) as machine:
                join = timed(
                    "create", "node", "--name", name, "--provider", "ssh", *machine.ssh_args(),
                    env=env,
                )  # fmt: skip
                listed = kubectl(env, "get", "nodes", "-l", "ku7s.dev/provider=ssh", "-o", "json")
                node = json.loads(listed)["items"][0]["metadata"]["name"]
                figures[f"join_s_{label}"] = join
                if label == "packages_present":
                    figures.update(pod_throughput(env, name, node))
                figures[f"delete_s_{label}"] = timed(
                    "delete", "node", node, "--name", name, *machine.ssh_args()[2:], env=env
                )
        print(json.dumps(figures, indent=2))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


def pod_throughput(env: dict[str, str], cluster: str, machine_node: str) -> dict[str, object]:
    worker, worker2 = f"{cluster}-worker", f"{cluster}-worker2"
    on_machine = server_on(env, "srv-machine", machine_node)
    on_worker2 = server_on(env, "srv-worker2", worker2)
    pod_on(env, "client", worker, "busybox", "--", "sleep", "3600")
    figures = {
        "pod_to_pod_MiB_s_container_to_machine": [
            throughput(env, "client", on_machine) for _ in range(3)
        ],
        "pod_to_pod_MiB_s_container_to_container": [
            throughput(env, "client", on_worker2) for _ in range(3)
        ],
    }
    kubectl(env, "delete", "pod", "srv-machine", "srv-worker2", "client", "--wait=false")
    return figures


if __name__ == "__main__":
    main()
