"""The plain machines the SSH provider's tests use: Debian's minbase with iptables, sshd and
sudo (nothing of ku7s), built by ku7s's image builder from ssh_vm/.

A machine that joins runs nested containerd, so it is started as node containers are (with
their privileges, which compose cannot express here) and with a volume for /var/lib
(overlayfs does not nest on the container's own overlay root)."""

from __future__ import annotations

import base64
import contextlib
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import paramiko

from ku7s.cluster.images import ImageBuilder
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import NodeSpec
from ku7s.cluster.providers.ssh import fingerprint

VM_DIR = Path(__file__).parent / "ssh_vm"
VM_PACKAGES = ["iptables", "openssh-server", "sudo"]


def plain_debian(provider: DockerProvider, packages: list[str] = VM_PACKAGES) -> str:
    """The Debian image the machine is built on (made once, then found by its tag)."""
    return ImageBuilder(provider.client).ensure_debian("ku7s/debian", packages).image


def docker_sh(container: str, command: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, "sh", "-c", command], capture_output=True, text=True
    ).stdout


@dataclass
class Machine:
    name: str
    address: str
    identity: Path
    fingerprint: str

    def sh(self, command: str) -> str:
        return docker_sh(self.name, command)

    def key_args(self) -> list[str]:
        """The test's key and the machine's pinned host key, as ku7s's SSH options."""
        return ["--identity", str(self.identity), "--fingerprint", self.fingerprint]

    def ssh_args(self, user: str = "deploy") -> list[str]:
        return ["--host", f"{user}@{self.address}", *self.key_args()]

    def docker_host_args(self) -> list[str]:
        """How `ku7s create node --docker-host` reaches the machine's Docker engine."""
        return ["--docker-host", f"ssh://root@{self.address}", *self.key_args()]


def cluster_config(directory: Path, node_service_address: str, workers: int = 1) -> Path:
    """A cluster config publishing the control plane's ports on node_service_address."""
    config = directory / "cluster.yaml"
    config.write_text(
        "kind: Cluster\napiVersion: ku7s.dev/v1alpha1\n"
        f"networking: {{nodeServiceAddress: {node_service_address}}}\n"
        f"nodes: [{{role: control-plane}}{', {role: worker}' * workers}]\n"
    )
    return config


def up_machine(
    provider: DockerProvider, name: str, network: str, identity: Path, ready: str
) -> Machine:
    """The machine in container name, once the shell command ready prints something."""
    deadline = time.monotonic() + 30
    while not docker_sh(name, ready) and time.monotonic() < deadline:
        time.sleep(0.2)
    # The host key, read out of band as an administrator would give it.
    kind, data = docker_sh(name, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
    pinned = fingerprint(paramiko.PKey.from_type_string(kind, base64.b64decode(data)))
    return Machine(name, provider.address_on(name, network), identity, pinned)


@contextlib.contextmanager
def started_machine(
    provider: DockerProvider,
    cluster: str,
    network: str,
    directory: Path,
    packages: list[str] = VM_PACKAGES,
    *,
    image_dir: Path = VM_DIR,
    volume_path: str = "/var/lib",
    ready: str = "pgrep -x sshd",
) -> Iterator[Machine]:
    """A machine on the network, its key in directory; removed (with its volume) after.
    It is up once the shell command ``ready`` prints something."""
    base = plain_debian(provider, packages)
    image = f"ku7s-test/{image_dir.name.replace('_', '-')}:{base.split(':')[1]}"
    provider.client.images.build(
        path=str(image_dir), tag=image, buildargs={"BASE_IMAGE": base}, rm=True
    )
    identity = directory / "id_rsa"
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(identity))
    public = f"{key.get_name()} {key.get_base64()}"
    name = f"{cluster}-vm-{secrets.token_hex(2)}"
    volume = f"{name}-var-lib"
    try:
        provider.create_node(
            NodeSpec(
                name=name,
                cluster=cluster,
                role="machine",
                image=image,
                network=network,
                env={"AUTHORIZED_KEY": public},
                volume=volume,
                volume_path=volume_path,
            )
        )
        yield up_machine(provider, name, network, identity, ready)
    finally:
        provider.remove_containers([name])
        with contextlib.suppress(docker.errors.NotFound):
            provider.client.volumes.get(volume).remove(force=True)
