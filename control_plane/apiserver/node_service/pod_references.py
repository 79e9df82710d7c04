"""What a pod references by name: the Secrets, ConfigMaps and claims a node may read for it.

Upstream's Node authorizer keeps a graph of these edges; here the node's pods in the
namespace are read when a kubelet asks, which its short cache keeps rare.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ku7s.api.persistent_volumes import ephemeral_claim_name

Object = dict[str, Any]


def _volume_references(volume: Object) -> Iterator[tuple[str, str]]:
    if "secret" in volume:
        yield "secrets", (volume["secret"] or {}).get("secretName", "")
    if "configMap" in volume:
        yield "configmaps", (volume["configMap"] or {}).get("name", "")
    if "persistentVolumeClaim" in volume:
        yield "persistentvolumeclaims", (volume["persistentVolumeClaim"] or {}).get("claimName", "")
    for source in (volume.get("projected") or {}).get("sources") or []:
        if "secret" in source:
            yield "secrets", (source["secret"] or {}).get("name", "")
        if "configMap" in source:
            yield "configmaps", (source["configMap"] or {}).get("name", "")


def _container_references(container: Object) -> Iterator[tuple[str, str]]:
    for source in container.get("envFrom") or []:
        if "secretRef" in source:
            yield "secrets", (source["secretRef"] or {}).get("name", "")
        if "configMapRef" in source:
            yield "configmaps", (source["configMapRef"] or {}).get("name", "")
    for entry in container.get("env") or []:
        value_from = entry.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            yield "secrets", (value_from["secretKeyRef"] or {}).get("name", "")
        if "configMapKeyRef" in value_from:
            yield "configmaps", (value_from["configMapKeyRef"] or {}).get("name", "")


def pod_references(pod: Object) -> set[tuple[str, str]]:
    """(plural, name) of every Secret, ConfigMap and claim the pod names."""
    spec = pod.get("spec") or {}
    found: set[tuple[str, str]] = set()
    for volume in spec.get("volumes") or []:
        found.update(_volume_references(volume))
        if "ephemeral" in volume:
            found.add(("persistentvolumeclaims", ephemeral_claim_name(pod, volume.get("name", ""))))
    for part in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(part) or []:
            found.update(_container_references(container))
    for secret in spec.get("imagePullSecrets") or []:
        found.add(("secrets", secret.get("name", "")))
    return found
