"""Benchmark: a cluster across two Docker engines.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_docker_hosts.py

1. `ku7s create node --docker-host ssh://...` until the node is Ready: first with the node
   image to copy to the second engine (and both gateways to start), then with it there;
   and `ku7s delete node` of it (the last node there: its gateway and network go too).
2. TCP throughput between pods: a busybox pod on a worker downloads 500 MiB from nginx in
   a pod on a worker of the other engine (over the hosts' VXLAN gateways) and from nginx
   on a worker of the same engine (three rounds each).

The second engine is the e2e tests' (tests/e2e/docker_host): a dockerd in a container on
this machine, so the figures compare paths, not machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench_apiserver import ku7s
from bench_ssh import kubectl, pod_on, server_on, throughput, timed

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import write_key
from tests.e2e.docker_hosts import COMPOSE_FILE, HOST_PACKAGES, SERVICE, composed_docker_host
from tests.e2e.ssh_machines import Machine, cluster_config, plain_debian


def main() -> None:
    provider = DockerProvider.connect()
    name = f"hostsbench-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp())
    env = {"KUBECONFIG": str(work / "kubeconfig")}
    figures: dict[str, object] = {}
    with composed(provider, work) as (host, address):
        config = cluster_config(work, address, workers=2)
        ku7s("create", "cluster", "--name", name, "--config", str(config), env=env)
        try:
            args = ("create", "node", "--name", name, *host.docker_host_args())
            figures["join_s_image_to_copy"] = timed(*args, env=env)
            remote = f"{name}-worker3"
            figures["delete_s"] = timed("delete", "node", remote, "--name", name, env=env)
            figures["join_s_image_present"] = timed(*args, env=env)
            figures.update(pod_throughput(env, name, remote))
        finally:
            ku7s("delete", "cluster", "--name", name, env=env)
    print(json.dumps(figures, indent=2))


@contextlib.contextmanager
def composed(provider: DockerProvider, work: Path) -> Iterator[tuple[Machine, str]]:
    """The e2e tests' second Docker host, brought up and down with docker-compose."""
    identity = work / "id_rsa"
    key = write_key(identity)
    project = f"ku7sbench{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "KU7S_DOCKER_HOST_BASE_IMAGE": plain_debian(provider, HOST_PACKAGES),
        "KU7S_VM_BASE_IMAGE": "",
        "KU7S_VM_AUTHORIZED_KEY": f"{key.get_name()} {key.get_base64()}",
    }
    compose = ["docker-compose", "-f", str(COMPOSE_FILE), "-p", project]
    subprocess.run([*compose, "up", "--build", "-d", SERVICE], env=env, check=True)
    try:
        with composed_docker_host(provider, project, identity) as found:
            yield found
    finally:
        subprocess.run([*compose, "down", "-v"], env=env, check=False)


def pod_throughput(env: dict[str, str], cluster: str, remote: str) -> dict[str, object]:
    """Both directions across hosts: data from this host to the other crosses the engines'
    NAT in the kernel; data back arrives from a Docker network at this host's published
    port, which Docker's userland proxy relays (on one machine only: from another machine's
    network card the kernel's DNAT would take it)."""
    worker, worker2 = f"{cluster}-worker", f"{cluster}-worker2"
    other_host = server_on(env, "srv-remote", remote)
    same_host = server_on(env, "srv-worker2", worker2)
    pod_on(env, "client", worker, "busybox", "--", "sleep", "3600")
    pod_on(env, "client-remote", remote, "busybox", "--", "sleep", "3600")
    figures = {
        "pod_to_pod_MiB_s_same_host": [throughput(env, "client", same_host) for _ in range(3)],
        "pod_to_pod_MiB_s_across_hosts_to_the_other_host": [
            throughput(env, "client-remote", same_host) for _ in range(3)
        ],
        "pod_to_pod_MiB_s_across_hosts_back_through_dockers_udp_proxy": [
            throughput(env, "client", other_host) for _ in range(3)
        ],
    }
    pods = ("srv-remote", "srv-worker2", "client", "client-remote")
    kubectl(env, "delete", "pod", *pods, "--wait=false")
    return figures


if __name__ == "__main__":
    main()
