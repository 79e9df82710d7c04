"""Namespaces: Active on creation, with the ``kubernetes`` finalizer; a delete makes them
Terminating until the namespace controller has emptied them and finalized them."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta

NAMESPACE_FINALIZER = "kubernetes"


class NamespaceKind(Kind):
    returns_deleted_object = True
    resource = ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        short_names=("ns",),
        subresources=("status", "finalize"),
    )
    label_names = True
    field_paths: ClassVar[tuple[str, ...]] = ("status.phase",)
    default_propagation = "Background"
    columns: ClassVar[list[Column]] = [NAME, ("Status", "string", "", 0), AGE]

    def default(self, obj: Object) -> None:
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        obj["spec"] = {"finalizers": [NAMESPACE_FINALIZER]}
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, old: Object, new: Object, subresource: str | None) -> Object:
        if subresource == "finalize":
            result = super().prepare_for_update(old, {**old, "metadata": old["metadata"]}, None)
            result["spec"] = {"finalizers": list((new.get("spec") or {}).get("finalizers") or [])}
            return result
        result = super().prepare_for_update(old, new, subresource)
        if subresource is None:
            result["spec"] = old.get("spec", {})  # spec.finalizers only moves through /finalize
        return result

    def __init__(self, root_ca_pem: str = "") -> None:
        self._root_ca_pem = root_ca_pem

    def after_create(self, obj: Object) -> list[tuple[str, Object]]:
        # The service account and root CA publisher controllers' job upstream; every
        # namespace has both at once here, so its first pod never waits for them.
        companions = [("serviceaccounts", {"metadata": {"name": "default"}})]
        if self._root_ca_pem:
            companions.append(("configmaps", root_ca_config_map(self._root_ca_pem)))
        return companions

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("status", {}).get("phase", ""), age(obj)]


ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"


def root_ca_config_map(ca_pem: str) -> Object:
    """The CA bundle every namespace publishes for its pods' API clients."""
    return {
        "metadata": {
            "name": ROOT_CA_CONFIG_MAP,
            "annotations": {
                "kubernetes.io/description": (
                    "Contains a CA bundle that can be used to verify the kube-apiserver when "
                    "using internal endpoints such as the internal service IP or "
                    "kubernetes.default.svc. No other usage is guaranteed across distributions "
                    "of Kubernetes clusters."
                )
            },
        },
        "data": {"ca.crt": ca_pem},
    }
