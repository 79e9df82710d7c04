"""A worker container's main process: supervise containerd, the kubelet and kube-proxy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ku7s.supervisor import Program
from ku7s.supervisor.supervisor import run_until_signalled


def programs() -> list[Program]:
    python = sys.executable
    return [
        Program(
            "containerd", ("containerd", "--config", "/etc/containerd/config.toml"), stop_timeout=10
        ),
        Program("kubelet", (python, "-m", "node_image.kubelet")),
        Program("kube-proxy", (python, "-m", "node_image.kube_proxy")),
    ]


if __name__ == "__main__":
    os.makedirs("/etc/cni/net.d", exist_ok=True)
    run_until_signalled(programs(), Path("/var/log/ku7s"))
