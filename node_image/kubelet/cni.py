"""The node's CNI network: a bridge with host-local addresses from the node's pod CIDR.

containerd's CRI plugin watches the config directory and loads the file as soon as it
appears; until then it reports NetworkReady=false and the node stays NotReady.
"""

from __future__ import annotations

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
                "ipMasq": True,
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
