"""A second Docker host for the multi-host tests: the `dockerhost` service of
helper_hosts.yml (Debian's minbase with docker.io and sshd, nothing of ku7s), reached over SSH
as a remote engine is. The tests bring it up with pytest-docker; the benchmark with
docker-compose itself.

Docker isolates its networks from each other; two machines on one LAN are not. The host's
network is therefore let through to the others by DOCKER-USER rules (the chain Docker keeps
for its users' rules) while it is in use."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.ssh_machines import Machine, up_machine

COMPOSE_FILE = Path(__file__).parent / "helper_hosts.yml"
SERVICE = "dockerhost"
HOST_PACKAGES = ["docker.io", "iptables", "openssh-server", "sudo"]
READY = "pgrep -x sshd >/dev/null && docker info >/dev/null 2>&1 && echo up"


@contextlib.contextmanager
def routed(provider: DockerProvider, network: str) -> Iterator[str]:
    """The network routed to this machine's other Docker networks; yields its gateway, this
    machine's address as the host there sees it."""
    ipam = provider.client.networks.get(network).attrs["IPAM"]["Config"][0]
    rules = [["-s", ipam["Subnet"], "-j", "ACCEPT"], ["-d", ipam["Subnet"], "-j", "ACCEPT"]]
    try:
        for rule in rules:
            subprocess.run(["iptables", "-I", "DOCKER-USER", *rule], check=True)
        yield str(ipam["Gateway"])
    finally:
        for rule in rules:
            subprocess.run(["iptables", "-D", "DOCKER-USER", *rule], capture_output=True)


@contextlib.contextmanager
def composed_docker_host(
    provider: DockerProvider, project: str, identity: Path
) -> Iterator[tuple[Machine, str]]:
    """The second host of a compose project that is up: the machine, and this machine's
    address on its network."""
    [container] = provider.client.containers.list(
        filters={
            "label": [
                f"com.docker.compose.project={project}",
                f"com.docker.compose.service={SERVICE}",
            ]
        }
    )
    network = next(iter(container.attrs["NetworkSettings"]["Networks"]))
    with routed(provider, network) as address:
        yield up_machine(provider, str(container.name), network, identity, READY), address
