"""CPU and memory use read from the cgroup files, as cAdvisor reads them: the node's own
cgroup for the node, ``kubepods/<qos>/pod<uid>`` for a pod, and the container's id below
it for a container (containerd's cgroupfs layout). cgroup v1 and v2 both."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    #: Memory in use less what the kernel may reclaim at once (inactive file pages),
    #: the figure the kubelet evicts on and `kubectl top` shows.
    working_set_bytes: int
    usage_bytes: int
    #: When it was read (seconds since the epoch).
    timestamp: float


class CgroupReader:
    def __init__(self, hierarchy: Path = Path("/sys/fs/cgroup")) -> None:
        self._root = hierarchy
        self._unified = (hierarchy / "cgroup.controllers").exists()

    def read(self, cgroup: str) -> Usage | None:
        """The use of the cgroup at this path from the hierarchy's root; None if it is gone."""
        relative = cgroup.strip("/")
        try:
            if self._unified:
                return self._read_v2(self._root / relative)
            return self._read_v1(relative)
        except (OSError, ValueError):
            return None

    def _read_v1(self, relative: str) -> Usage:
        cpu = int(_text(self._root / "cpuacct" / relative / "cpuacct.usage")) / 1e9
        memory = self._root / "memory" / relative
        usage = int(_text(memory / "memory.usage_in_bytes"))
        inactive = _stat(memory / "memory.stat").get("total_inactive_file", 0)
        return Usage(cpu, max(0, usage - inactive), usage, time.time())

    def _read_v2(self, path: Path) -> Usage:
        cpu = _stat(path / "cpu.stat")["usage_usec"] / 1e6
        usage = int(_text(path / "memory.current"))
        inactive = _stat(path / "memory.stat").get("inactive_file", 0)
        return Usage(cpu, max(0, usage - inactive), usage, time.time())


def _text(path: Path) -> str:
    return path.read_text().strip()


def _stat(path: Path) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
