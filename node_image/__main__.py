"""A worker container's main process: supervise containerd, the kubelet and kube-proxy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ku7s.supervisor import Program
from ku7s.supervisor.supervisor import run_until_signalled


def programs(env: dict[str, str]) -> list[Program]:
    python = sys.executable
    config = env.get("KU7S_CONTAINERD_CONFIG", "/etc/containerd/config.toml")
    return [
        Program("containerd", ("containerd", "--config", config), stop_timeout=10),
        Program("kubelet", (python, "-m", "node_image.kubelet")),
        Program("kube-proxy", (python, "-m", "node_image.kube_proxy")),
    ]


if __name__ == "__main__":
    os.makedirs(os.environ.get("KU7S_CNI_CONF_DIR", "/etc/cni/net.d"), exist_ok=True)
    run_until_signalled(programs(dict(os.environ)), Path("/var/log/ku7s"))
