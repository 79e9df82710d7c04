"""Users other than the admin: a client certificate from the cluster's CA, and a kubeconfig
context for it, so a test can act as someone RBAC limits."""

from __future__ import annotations

import re
from typing import Any

from ku7s import kubeconfig, pki
from ku7s.cluster.access import admin_kubeconfig
from ku7s.cluster.node_specs import PKI_DIR
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import UserInputError
from ku7s.names import context_name, control_plane_name

#: Characters a user or group name may hold: what fits a certificate subject and a
#: kubeconfig entry name without quoting.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._@-]*$")


def user_context_name(cluster: str, user: str) -> str:
    return f"{context_name(cluster)}-{user}"


def user_kubeconfig(
    provider: DockerProvider, cluster: str, user: str, groups: tuple[str, ...]
) -> dict[str, Any]:
    """A kubeconfig whose only context is `user` (in `groups`) on the cluster."""
    for what, value in [("user", user), *(("group", g) for g in groups)]:
        if not _NAME.match(value):
            raise UserInputError(
                f"invalid {what} name {value!r}: use letters, digits and ':._@-', starting "
                "with a letter or digit"
            )
    admin = admin_kubeconfig(provider, cluster)
    control_plane = control_plane_name(cluster)
    ca = pki.CertificateAuthority.load(
        provider.read_file(control_plane, f"{PKI_DIR}/ca.crt"),
        provider.read_file(control_plane, f"{PKI_DIR}/ca.key"),
    )
    identity = ca.issue_client(user, groups)
    server = admin["clusters"][0]["cluster"]["server"]
    config = kubeconfig.render(cluster, server, ca.cert_pem, identity.cert_pem, identity.key_pem)
    name = user_context_name(cluster, user)
    config["users"][0]["name"] = name
    config["contexts"] = [
        {"name": name, "context": {"cluster": context_name(cluster), "user": name}}
    ]
    config["current-context"] = name
    return config
