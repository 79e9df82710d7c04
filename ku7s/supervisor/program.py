"""What the supervisor runs: a named command line with its environment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Program:
    """One long-running process of a node, such as etcd or the kubelet."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait after SIGTERM before SIGKILL when the node stops.
    stop_timeout: float = 5.0
