"""The SSH provider against a real sshd: a plain Debian container (not the node image) with
only openssh-server, brought up by pytest-docker from tests/e2e/ssh_vm. A host key is taken
from known_hosts or a pinned fingerprint and nothing else; a wrong key, an unknown or
changed host key, an unreachable host and a user without sudo each get one clear error."""

from __future__ import annotations

import base64
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.ssh import SSHError, SSHHost, SSHTarget, fingerprint, host_facts
from tests.e2e.conftest import write_key


class VM:
    def __init__(self, port: int, host_key: paramiko.PKey, identity: Path) -> None:
        self.port, self.host_key, self.identity = port, host_key, identity

    def target(self, user: str = "root") -> SSHTarget:
        return SSHTarget(user, "127.0.0.1", self.port)

    def host(self, user: str = "root", **kw: object) -> SSHHost:
        options: dict = {"identity": self.identity, "timeout": 5, **kw}
        return SSHHost(self.target(user), **options)


def sshd_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@pytest.fixture(scope="session")
def vm(
    docker_services,
    docker_compose_project_name: str,
    provider: DockerProvider,
    client_key: tuple[Path, paramiko.RSAKey],
) -> Iterator[VM]:
    port = docker_services.port_for("vm", 22)
    docker_services.wait_until_responsive(lambda: sshd_answers(port), timeout=30, pause=0.2)
    project, service = docker_compose_project_name, "com.docker.compose.service=vm"
    [container] = provider.client.containers.list(
        filters={"label": [f"com.docker.compose.project={project}", service]}
    )
    # The host key read out of band, as an administrator would give it.
    line = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).output.decode()
    kind, data = line.split()[:2]
    yield VM(port, paramiko.PKey.from_type_string(kind, base64.b64decode(data)), client_key[0])


def test_a_pinned_or_known_host_key_lets_root_and_sudoers_in(vm: VM, tmp_path: Path):
    with vm.host(pinned_fingerprint=fingerprint(vm.host_key)) as host:
        facts = host_facts(host)
        assert host.run("id -u").stdout.strip() == "0"
    assert facts["has_apt"] and not facts["has_systemd"]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        f"[127.0.0.1]:{vm.port} {vm.host_key.get_name()} {vm.host_key.get_base64()}\n"
    )
    with vm.host("deploy", known_hosts=known_hosts) as host:
        host_facts(host)
        assert host.run("id -u").stdout.strip() == "0"  # through sudo -n
        assert host.run("id -un", as_root=False).stdout.strip() == "deploy"
        host.put(b"hello\n", "/etc/ku7s-test/greeting", mode=0o600)
        assert host.run("stat -c '%a %U' /etc/ku7s-test/greeting").stdout.split() == ["600", "root"]


def test_every_refusal_is_one_clear_error(vm: VM, tmp_path: Path):
    offered = fingerprint(vm.host_key)
    with pytest.raises(
        SSHError,
        match=f"unknown host key {re.escape(offered)} for .*--fingerprint {re.escape(offered)}",
    ):
        vm.host().connect()
    with pytest.raises(SSHError, match=re.escape(f"is {offered}, not the pinned SHA256:AAAA")):
        vm.host(pinned_fingerprint="SHA256:AAAA").connect()
    changed = tmp_path / "known_hosts"
    other = paramiko.ECDSAKey.generate()
    changed.write_text(f"[127.0.0.1]:{vm.port} {other.get_name()} {other.get_base64()}\n")
    with pytest.raises(SSHError, match="differs from the one in known_hosts: refusing"):
        vm.host(known_hosts=changed).connect()
    wrong_key = tmp_path / "wrong"
    write_key(wrong_key)
    pinned = {"pinned_fingerprint": offered}
    with pytest.raises(
        SSHError, match=re.escape(f"cannot log in to root@127.0.0.1:{vm.port} with {wrong_key}")
    ):
        vm.host(identity=wrong_key, **pinned).connect()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        SSHError, match=re.escape(f"cannot reach 127.0.0.1:{closed}: connection refused")
    ):
        SSHHost(SSHTarget("root", "127.0.0.1", closed), identity=vm.identity).connect()
    assert time.monotonic() - started < 5
    with (
        vm.host("guest", **pinned) as host,
        pytest.raises(
            SSHError, match=re.escape("guest on 127.0.0.1 is not root and has no passwordless sudo")
        ),
    ):
        host_facts(host)
