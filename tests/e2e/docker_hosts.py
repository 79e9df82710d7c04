"""A second Docker host for the multi-host tests: a container from Debian's minbase with
docker.io and sshd (nothing of ku7s), on a network of its own, reached over SSH as a remote
engine is (tests/e2e/docker_host).

Docker isolates its networks from each other; two machines on one LAN are not. The network
is therefore let through to the others by DOCKER-USER rules (the chain Docker keeps for its
users' rules), as long as it exists. The engine runs nested containers, so the host is
started as node containers are (see ssh_machines)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import unique
from tests.e2e.ssh_machines import Machine, started_machine

HOST_DIR = Path(__file__).parent / "docker_host"
HOST_PACKAGES = ["docker.io", "iptables", "openssh-server", "sudo"]


@contextlib.contextmanager
def routed_network(provider: DockerProvider) -> Iterator[tuple[str, str]]:
    """A network routed to this machine's other Docker networks: (name, its gateway)."""
    network = provider.client.networks.create(unique("ku7s-lan"), driver="bridge")
    network.reload()
    ipam = network.attrs["IPAM"]["Config"][0]
    rules = [["-s", ipam["Subnet"], "-j", "ACCEPT"], ["-d", ipam["Subnet"], "-j", "ACCEPT"]]
    try:
        for rule in rules:
            subprocess.run(["iptables", "-I", "DOCKER-USER", *rule], check=True)
        yield str(network.name), str(ipam["Gateway"])
    finally:
        for rule in rules:
            subprocess.run(["iptables", "-D", "DOCKER-USER", *rule], capture_output=True)
        network.remove()


@contextlib.contextmanager
def second_docker_host(provider: DockerProvider, directory: Path) -> Iterator[tuple[Machine, str]]:
    """The host, and this machine's address on its network (where it reaches us)."""
    with (
        routed_network(provider) as (network, address),
        started_machine(
            provider,
            unique("dockerhost"),
            network,
            directory,
            HOST_PACKAGES,
            image_dir=HOST_DIR,
            volume_path="/var/lib/docker",
            ready="pgrep -x sshd >/dev/null && docker info >/dev/null 2>&1 && echo up",
        ) as machine,
    ):
        yield machine, address
