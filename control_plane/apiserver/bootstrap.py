"""Objects every cluster has from its first second: the four default namespaces."""

from __future__ import annotations

import logging

from control_plane.apiserver import errors
from control_plane.apiserver.registry import Registry

log = logging.getLogger("kube-apiserver")

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure_default_namespaces(registry: Registry) -> None:
    namespaces = registry.types.lookup("", "v1", "namespaces")
    assert namespaces is not None
    for name in DEFAULT_NAMESPACES:
        try:
            await registry.create(namespaces, "", {"metadata": {"name": name}})
            log.info("created namespace %s", name)
        except errors.APIError as e:
            if e.reason != "AlreadyExists":
                raise
