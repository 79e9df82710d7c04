"""Latency with the kernel's own ``netem``, where it has it: a netem leaf under the egress
class that takes the traffic to the other side. Kernels without it (as here) get the
NFQUEUE way in network.py instead; both give the same fault."""

from __future__ import annotations

from typing import Any

from ku7s.chaos.faults.bandwidth import DEVICE, egress_class_commands

#: netem's handle under the HTB class; how the undo knows the root is a latency fault's.
NETEM_HANDLE = "10:"


def has_netem(container: Any) -> bool:
    """Whether the container's kernel has netem: tried on its loopback, and taken off."""
    probe = "tc qdisc add dev lo root netem delay 1ms && tc qdisc del dev lo root"
    return bool(container.exec_run(["sh", "-c", probe]).exit_code == 0)


def netem_commands(destinations: list[str], delay: float, jitter: float) -> list[str]:
    leaf = f"netem delay {delay * 1000:.1f}ms"
    if jitter:
        leaf += f" {jitter * 1000:.1f}ms"  # uniform, as the NFQUEUE way draws it
    return egress_class_commands(destinations, "rate 100gbit", leaf)


def netem_undo() -> str:
    """Remove the root only if it holds our netem (a bandwidth fault's root has none)."""
    return (
        f"tc qdisc show dev {DEVICE} | grep -q 'netem {NETEM_HANDLE}' "
        f"&& tc qdisc del dev {DEVICE} root"
    )
