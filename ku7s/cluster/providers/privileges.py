"""What a node container may do on this machine: the engine host's capabilities decide
whether nodes run privileged or with every capability the host has; the engine's socket
is handed to the control plane (the mock cloud drives Docker)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Capabilities:
    """The engine host's capability bounding set, which decides how nodes get privileges.

    --privileged needs every capability in the bounding set; on hosts whose set lacks one
    (seen: CAP_SYS_RESOURCE) Docker fails with "unable to apply caps", so nodes then get
    every capability but the missing ones.
    """

    bounding: int
    last: int

    @classmethod
    def parse(cls, status: str, cap_last_cap: str) -> Capabilities:
        """From /proc/self/status and /proc/sys/kernel/cap_last_cap (none if unreadable)."""
        try:
            for line in status.splitlines():
                if line.startswith("CapBnd:"):
                    return cls(int(line.split()[1], 16), int(cap_last_cap))
        except ValueError:
            pass
        return cls(0, 0)

    @classmethod
    def of_this_machine(cls) -> Capabilities:
        try:
            return cls.parse(
                Path("/proc/self/status").read_text(),
                Path("/proc/sys/kernel/cap_last_cap").read_text(),
            )
        except OSError:
            return cls(0, 0)

    @property
    def allow_privileged(self) -> bool:
        return self.last > 0 and self.bounding == (1 << (self.last + 1)) - 1

    @property
    def missing(self) -> list[str]:
        names = {24: "SYS_RESOURCE", 21: "SYS_ADMIN", 12: "NET_ADMIN"}
        if not self.last:
            return ["SYS_RESOURCE"]
        return [name for bit, name in names.items() if not self.bounding & (1 << bit)]


def local_docker_socket() -> str | None:
    """The engine's Unix socket on this machine, if the engine is reached through one."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and Path(host[len("unix://") :]).exists():
        return host[len("unix://") :]
    return None


def node_privileges(privileged: bool, capabilities: Capabilities) -> dict[str, object]:
    """What a worker needs to run containerd, runc and CNI inside its container."""
    if privileged:
        return {
            "privileged": True,
            "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        }
    return {
        "cap_add": ["ALL"],
        "cap_drop": capabilities.missing,
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "device_cgroup_rules": ["a *:* rwm"],
    }
