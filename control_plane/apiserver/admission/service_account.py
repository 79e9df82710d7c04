"""The ServiceAccount admission plugin: a new pod's service account must exist, and unless
the pod or its service account says ``automountServiceAccountToken: false`` the pod gets
the ``kube-api-access-<suffix>`` projected volume (a bound token, the cluster CA and the
namespace) mounted into every container at upstream's path."""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.kinds.namespace import ROOT_CA_CONFIG_MAP

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
#: Upstream's lifetime for the token in this volume (an hour and a bit, so it differs from
#: any token a user asks for).
TOKEN_EXPIRATION_SECONDS = 3607
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def api_access_volume(name: str) -> Object:
    return {
        "name": name,
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                                         "path": "token"}},
                {"configMap": {"name": ROOT_CA_CONFIG_MAP,
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }  # fmt: skip


class ServiceAccountAdmission:
    async def admit(
        self,
        registry: Registry,
        kind: Kind,
        obj: Object,
        old: Object | None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        if kind.resource.plural != "pods" or kind.resource.group or old is not None:
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        namespace = obj["metadata"].get("namespace", "")
        name = spec.get("serviceAccountName") or "default"
        account = await registry.find(registry.kinds.get("serviceaccounts"), namespace, name)
        if account is None:
            raise errors.forbidden(
                "pods",
                obj["metadata"].get("name") or obj["metadata"].get("generateName", ""),
                f'error looking up service account {namespace}/{name}: serviceaccount "{name}" '
                "not found",
            )
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is False:
            return
        containers = [
            c
            for part in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(part) or []
            if isinstance(c, dict)
        ]
        if any(
            m.get("mountPath") == MOUNT_PATH
            for c in containers
            for m in c.get("volumeMounts") or []
            if isinstance(m, dict)
        ):
            return  # the pod brings its own
        volumes = spec.setdefault("volumes", [])
        taken = {v.get("name") for v in volumes if isinstance(v, dict)}
        volume_name = ""
        while not volume_name or volume_name in taken:
            suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
            volume_name = VOLUME_PREFIX + suffix
        volumes.append(api_access_volume(volume_name))
        for container in containers:
            container.setdefault("volumeMounts", []).append(
                {"name": volume_name, "readOnly": True, "mountPath": MOUNT_PATH}
            )
