"""The node's CNI network: a bridge with host-local addresses from the node's pod CIDR.

containerd's CRI plugin watches the config directory and loads the file as soon as it
appears; until then it reports NetworkReady=false and the node stays NotReady.

Traffic from pods to outside the cluster's pod network is masqueraded by one rule for the
node, not by the bridge plugin's chain per pod (whose iptables calls cost every pod start a
tenth of its time here); traffic to pods on other nodes keeps its pod address.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

CONFIG_NAME = "10-ku7s.conflist"


def render(pod_cidr: str, mtu: int = 1500) -> str:
    config = {
        "cniVersion": "0.4.0",
        "name": "ku7s",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "mtu": mtu,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def write_config(conf_dir: Path, pod_cidr: str) -> bool:
    """Write the config atomically; return whether it changed."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / CONFIG_NAME
    text = render(pod_cidr)
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def masquerade_rule(pod_cidr: str, cluster_cidr: str) -> list[str]:
    return [
        "POSTROUTING",
        "-s",
        pod_cidr,
        "!",
        "-d",
        cluster_cidr or pod_cidr,
        "-m",
        "comment",
        "--comment",
        "ku7s: pods reaching beyond the pod network",
        "-j",
        "MASQUERADE",
    ]


async def ensure_masquerade(pod_cidr: str, cluster_cidr: str, iptables: str = "iptables") -> bool:
    """Add the node's masquerade rule unless it is there; return whether it was added."""
    rule = masquerade_rule(pod_cidr, cluster_cidr)

    async def run(*args: str) -> int:
        process = await asyncio.create_subprocess_exec(
            iptables,
            "-w",
            "-t",
            "nat",
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, error = await process.communicate()
        if process.returncode not in (0, 1):
            raise RuntimeError(f"{iptables} failed: {error.decode().strip()}")
        return process.returncode or 0

    if await run("-C", *rule) == 0:
        return False
    if await run("-A", *rule) != 0:
        raise RuntimeError(f"{iptables} could not add the masquerade rule for {pod_cidr}")
    return True
