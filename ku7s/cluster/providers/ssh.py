"""Machines as nodes, over SSH (paramiko): the connection, its host key check, and running
commands and copying files on the machine.

Host keys are never accepted blindly: the machine's key must be in ``known_hosts`` (the
user's, or a file given) or match a SHA256 fingerprint pinned on the command line, as
``ssh-keygen -lf`` prints it. Commands run as root: directly when the user is root, through
``sudo -n`` otherwise (so a password prompt is an error, not a hang).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from ku7s.errors import Ku7sError, UserInputError

DEFAULT_PORT = 22
CONNECT_TIMEOUT = 10.0
_TARGET = re.compile(
    r"^(?:(?P<user>[^@\s:]+)@)?(?P<host>\[[^\]]+\]|[^:@\s\[\]]+)(?::(?P<port>\d+))?$"
)


class SSHError(Ku7sError):
    """The machine could not be reached, trusted, logged into, or used."""


@dataclass(frozen=True)
class SSHTarget:
    user: str
    host: str
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str, default_user: str = "root") -> SSHTarget:
        """``[user@]address[:port]``; an IPv6 address goes in brackets."""
        match = _TARGET.match(text.strip())
        if not match:
            raise UserInputError(f"invalid --host {text!r}: expected [user@]address[:port]")
        bracketed = match.group("host")
        host = bracketed.strip("[]")
        if ":" in host or bracketed.startswith("["):
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise UserInputError(f"invalid --host {text!r}: not an IPv6 address") from None
        port = int(match.group("port") or DEFAULT_PORT)
        if not 0 < port < 65536:
            raise UserInputError(f"invalid --host {text!r}: port {port} is out of range")
        return cls(match.group("user") or default_user, host, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a public key: ``SHA256:<base64, no padding>``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _PinnedOrReject(paramiko.MissingHostKeyPolicy):
    """A key not in known_hosts is taken only if it matches the pinned fingerprint."""

    def __init__(self, pinned: str | None) -> None:
        self._pinned = pinned
        self.offered: str = ""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        self.offered = fingerprint(key)
        if self._pinned is not None and self.offered == self._pinned:
            return
        raise SSHError(self._refusal(hostname))

    def _refusal(self, hostname: str) -> str:
        if self._pinned is not None:
            return (
                f"the host key of {hostname} is {self.offered}, not the pinned {self._pinned}; "
                "refusing to connect"
            )
        return (
            f"unknown host key {self.offered} for {hostname}: add it to known_hosts or pass "
            f"--fingerprint {self.offered} if you trust it"
        )


@dataclass(frozen=True)
class CommandResult:
    command: str
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """What the command said, for an error message: its last lines."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-10:])


class SSHHost:
    """One machine over one SSH connection."""

    def __init__(
        self,
        target: SSHTarget,
        *,
        identity: Path | None = None,
        known_hosts: Path | None = None,
        pinned_fingerprint: str | None = None,
        timeout: float = CONNECT_TIMEOUT,
        client: paramiko.SSHClient | None = None,
    ) -> None:
        if pinned_fingerprint is not None and not pinned_fingerprint.startswith("SHA256:"):
            raise UserInputError(
                f"invalid --fingerprint {pinned_fingerprint!r}: expected SHA256:... as "
                "ssh-keygen -lf prints it"
            )
        if identity is not None and not identity.is_file():
            raise UserInputError(f"--identity {identity}: no such file")
        self.target = target
        self._identity = identity
        self._known_hosts = known_hosts
        self._policy = _PinnedOrReject(pinned_fingerprint)
        self._timeout = timeout
        self._client = client or paramiko.SSHClient()
        self._sudo = ""

    def connect(self) -> None:
        client = self._client
        try:
            client.load_system_host_keys()
            if self._known_hosts is not None:
                client.load_host_keys(str(self._known_hosts))
        except (OSError, paramiko.SSHException) as e:
            raise UserInputError(f"cannot read known hosts: {e}") from e
        client.set_missing_host_key_policy(self._policy)
        where = f"{self.target.host}:{self.target.port}"
        try:
            client.connect(
                self.target.host,
                port=self.target.port,
                username=self.target.user,
                key_filename=str(self._identity) if self._identity else None,
                timeout=self._timeout,
                banner_timeout=self._timeout,
                auth_timeout=self._timeout,
                allow_agent=self._identity is None,
                look_for_keys=self._identity is None,
            )
        except SSHError:
            raise
        except paramiko.BadHostKeyException as e:
            raise SSHError(
                f"the host key of {where} ({fingerprint(e.key)}) differs from the one in "
                "known_hosts: refusing to connect (it may have been reinstalled, or someone "
                "is in the middle)"
            ) from e
        except TimeoutError as e:
            raise SSHError(f"cannot reach {where}: no answer in {self._timeout:g}s") from e
        except paramiko.ssh_exception.NoValidConnectionsError as e:
            raise SSHError(f"cannot reach {where}: connection refused") from e
        except (OSError, paramiko.SSHException) as e:
            # A key refused shows as AuthenticationException, or as whatever paramiko's
            # last try at reading the key file raised; either way the server answered.
            transport = client.get_transport()
            answered = transport is not None and transport.is_active()
            if isinstance(e, paramiko.AuthenticationException) or answered:
                how = f"with {self._identity}" if self._identity else "with the agent's keys"
                raise SSHError(f"cannot log in to {self.target} {how}: key refused") from e
            raise SSHError(f"cannot reach {where}: {e}") from e
        self._sudo = "" if self.target.user == "root" else "sudo -n "

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SSHHost:
        self.connect()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run(
        self,
        command: str,
        *,
        as_root: bool = True,
        check: bool = True,
        timeout: float = 600,
        stdin: Iterable[bytes] = (),
    ) -> CommandResult:
        """Run a shell command on the machine (as root unless told otherwise), with stdin's
        chunks as its input (a stream too big to hold: an image for `docker load`)."""
        line = f"{self._sudo}sh -c {shlex.quote(command)}" if as_root and self._sudo else command
        try:
            into, out, err = self._client.exec_command(line, timeout=timeout)
            for chunk in stdin:
                into.write(chunk)
            into.channel.shutdown_write()
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            code = out.channel.recv_exit_status()
        except (OSError, paramiko.SSHException) as e:
            raise SSHError(
                f"{self.target.host}: lost the connection running {command!r}: {e}"
            ) from e
        result = CommandResult(command, code, stdout, stderr)
        if check and code != 0:
            raise SSHError(
                f"{self.target.host}: `{command}` failed (exit {code}):\n{result.output}"
            )
        return result

    @property
    def transport(self) -> paramiko.SSHClient:
        """The connected paramiko client, for protocols carried over it (Docker's API)."""
        return self._client

    def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        """Write a file on the machine as root: staged in the user's temp, moved in place."""
        staged = f"/tmp/.ku7s-{hashlib.sha256(path.encode()).hexdigest()[:12]}"
        try:
            with self._client.open_sftp() as sftp, sftp.open(staged, "wb") as remote:
                remote.write(data)
        except (OSError, paramiko.SSHException) as e:
            raise SSHError(f"{self.target.host}: cannot copy {path}: {e}") from e
        directory = shlex.quote(str(Path(path).parent))
        self.run(
            f"mkdir -p {directory} && install -m {mode:o} {staged} {shlex.quote(path)} "
            f"&& rm -f {staged}"
        )


def host_facts(host: SSHHost) -> dict[str, Any]:
    """What the node agent needs of a machine, checked before anything is installed."""
    system = host.run("uname -s; uname -m", as_root=False).stdout.split()
    if system[:1] != ["Linux"]:
        raise SSHError(
            f"{host.target.host} runs {' '.join(system[:1]) or 'an unknown system'}, not Linux"
        )
    if system[1:2] != ["x86_64"]:
        raise SSHError(
            f"{host.target.host} is {' '.join(system[1:2]) or 'of an unknown kind'}, not x86_64"
        )
    if host.target.user != "root":
        sudo = host.run("sudo -n true", as_root=False, check=False)
        if sudo.code != 0:
            raise SSHError(
                f"{host.target.user} on {host.target.host} is not root and has no passwordless "
                f"sudo: {sudo.output or 'sudo refused'}"
            )
    cgroups = host.run("stat -fc %T /sys/fs/cgroup", check=False).stdout.strip()
    if cgroups not in ("cgroup2fs", "tmpfs"):
        raise SSHError(f"{host.target.host} has no cgroup file system at /sys/fs/cgroup")
    return {
        "cgroup_version": 2 if cgroups == "cgroup2fs" else 1,
        "has_iptables": host.run("command -v iptables", check=False).code == 0,
        "has_systemd": host.run("test -d /run/systemd/system", check=False).code == 0,
        "has_apt": host.run("command -v apt-get", check=False).code == 0,
    }
