"""The /etc/hosts the kubelet writes for a pod (not on the host's network): localhost,
the pod's own name at its IP, and its hostAliases, as upstream's managed hosts file."""

from __future__ import annotations

from typing import Any

from ku7s.api import meta

Object = dict[str, Any]


def hosts_file(pod: Object, ip: str) -> str:
    spec = pod.get("spec") or {}
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if ip:
        hostname = spec.get("hostname") or meta.name_of(pod)
        lines.append(f"{ip}\t{hostname}")
    for alias in spec.get("hostAliases") or []:
        lines.append(f"{alias.get('ip', '')}\t{' '.join(alias.get('hostnames') or [])}")
    return "\n".join(lines) + "\n"
