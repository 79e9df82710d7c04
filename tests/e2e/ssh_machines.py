"""The plain machine the SSH provider's tests use: Debian's minbase with iptables, sshd and
sudo (nothing of ku7s), built by ku7s's image builder, and sshd's start script and image
recipe in ssh_vm/."""

from __future__ import annotations

from pathlib import Path

from ku7s.cluster.images import ImageBuilder
from ku7s.cluster.providers.docker import DockerProvider

VM_DIR = Path(__file__).parent / "ssh_vm"
VM_PACKAGES = ["iptables", "openssh-server", "sudo"]


def plain_debian(provider: DockerProvider) -> str:
    """The Debian image the machine is built on (made once, then found by its tag)."""
    return ImageBuilder(provider.client).ensure_debian("ku7s/debian", VM_PACKAGES).image
