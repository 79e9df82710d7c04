"""The SSH provider's connection layer without a machine: targets parsed, host keys never
taken blindly, every failure one clear line, commands run as root through sudo -n."""

from __future__ import annotations

import io
import re

import paramiko
import pytest

from ku7s.cluster.providers.ssh import (
    SSHError,
    SSHHost,
    SSHTarget,
    _PinnedOrReject,
    fingerprint,
    host_facts,
)
from ku7s.errors import UserInputError

KEY = paramiko.ECDSAKey.generate()


def test_targets_parse_as_ssh_writes_them():
    assert SSHTarget.parse("10.0.0.5") == SSHTarget("root", "10.0.0.5", 22)
    assert SSHTarget.parse("deploy@vm.example:2222") == SSHTarget("deploy", "vm.example", 2222)
    assert SSHTarget.parse("me@[fd00::5]:22") == SSHTarget("me", "fd00::5", 22)
    assert str(SSHTarget("me", "fd00::5", 22)) == "me@[fd00::5]:22"
    for bad in ("", "a@b@c", "host:99999", "host:port", "[nothing]"):
        with pytest.raises(UserInputError, match="invalid --host"):
            SSHTarget.parse(bad)


def test_a_host_key_is_taken_only_from_known_hosts_or_a_matching_pin():
    printed = fingerprint(KEY)
    assert printed.startswith("SHA256:") and not printed.endswith("=")
    _PinnedOrReject(printed).missing_host_key(None, "vm", KEY)  # type: ignore[arg-type]
    with pytest.raises(SSHError, match=re.escape(f"unknown host key {printed} for vm: add it")):
        _PinnedOrReject(None).missing_host_key(None, "vm", KEY)  # type: ignore[arg-type]
    with pytest.raises(SSHError, match="not the pinned SHA256:other"):
        _PinnedOrReject("SHA256:other").missing_host_key(None, "vm", KEY)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="invalid --fingerprint"):
        SSHHost(SSHTarget("root", "vm"), pinned_fingerprint="md5:00")


class FakeChannel:
    def __init__(self, code: int) -> None:
        self.code = code

    def recv_exit_status(self) -> int:
        return self.code

    def shutdown_write(self) -> None:
        pass


class FakeStream(io.BytesIO):
    def __init__(self, data: bytes, code: int) -> None:
        super().__init__(data)
        self.channel = FakeChannel(code)


class FakeClient:
    """Stands in for paramiko.SSHClient: fails to connect as told, answers commands from a
    table of (prefix -> exit code, stdout)."""

    def __init__(self, error: Exception | None = None, answers: dict | None = None) -> None:
        self.error, self.answers, self.commands = error, answers or {}, []

    def load_system_host_keys(self) -> None:
        pass

    def load_host_keys(self, path: str) -> None:
        pass

    def set_missing_host_key_policy(self, policy: object) -> None:
        pass

    def connect(self, *args: object, **kw: object) -> None:
        if self.error is not None:
            raise self.error

    def exec_command(self, line: str, timeout: float = 0):
        self.commands.append(line)
        for prefix, (code, out) in self.answers.items():
            if prefix in line:
                return FakeStream(b"", code), FakeStream(out.encode(), code), FakeStream(b"", code)
        return FakeStream(b"", 0), FakeStream(b"", 0), FakeStream(b"", 0)

    def close(self) -> None:
        pass

    def get_transport(self) -> None:
        return None


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (paramiko.AuthenticationException("Authentication failed."), "cannot log in to root@vm:22"),
        (TimeoutError(), "cannot reach vm:22: no answer in 10s"),
        (ConnectionRefusedError(111, "Connection refused"), "cannot reach vm:22: .*refused"),
        (paramiko.BadHostKeyException("vm", KEY, KEY), "differs from the one in known_hosts"),
    ],
)
def test_connection_failures_are_one_clear_line(error, message):
    host = SSHHost(SSHTarget("root", "vm"), client=FakeClient(error))  # type: ignore[arg-type]
    with pytest.raises(SSHError, match=message):
        host.connect()


def test_commands_run_as_root_through_sudo_and_the_host_is_checked_first():
    client = FakeClient(answers={"uname": (0, "Linux\nx86_64\n"), "stat -fc": (0, "cgroup2fs\n")})
    host = SSHHost(SSHTarget("deploy", "vm"), client=client)  # type: ignore[arg-type]
    host.connect()
    facts = host_facts(host)
    assert facts["cgroup_version"] == 2
    assert "sudo -n sh -c 'stat -fc %T /sys/fs/cgroup'" in client.commands
    assert "uname -s; uname -m" in client.commands  # a plain user may ask this
    arm = FakeClient(answers={"uname": (0, "Linux\naarch64\n")})
    host = SSHHost(SSHTarget("root", "pi"), client=arm)  # type: ignore[arg-type]
    host.connect()
    with pytest.raises(SSHError, match="pi is aarch64, not x86_64"):
        host_facts(host)
    no_sudo = FakeClient(answers={"uname": (0, "Linux\nx86_64\n"), "sudo -n true": (1, "")})
    host = SSHHost(SSHTarget("guest", "vm"), client=no_sudo)  # type: ignore[arg-type]
    host.connect()
    with pytest.raises(SSHError, match="guest on vm is not root and has no passwordless sudo"):
        host_facts(host)
    failing = FakeClient(answers={"apt-get": (100, "E: Unable to locate package nope")})
    host = SSHHost(SSHTarget("root", "vm"), client=failing)  # type: ignore[arg-type]
    host.connect()
    with pytest.raises(SSHError, match=r"(?s)failed \(exit 100\):\nE: Unable to locate"):
        host.run("apt-get install -y nope")
