"""The built-in ingress controller's names, shared by the API server (which makes its
IngressClass at start) and the controller (which serves the Ingresses of that class)."""

from __future__ import annotations

from typing import Any

from ku7s.api import meta

Object = dict[str, Any]

INGRESS_CLASS = "ku7s"
CONTROLLER = "ku7s.dev/ingress-nginx"
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
#: The deprecated annotation older manifests name their class with.
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
NAMESPACE = "ingress-ku7s"
NAME = "ku7s-ingress-controller"

DEFAULT_INGRESS_CLASS: Object = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {
        "name": INGRESS_CLASS,
        "annotations": {DEFAULT_CLASS: "true"},
        "labels": {"app.kubernetes.io/name": NAME},
    },
    "spec": {"controller": CONTROLLER},
}


def class_of(ingress: Object) -> str:
    """The class an Ingress names (spec field, else the deprecated annotation)."""
    spec = ingress.get("spec") or {}
    return str(
        spec.get("ingressClassName") or meta.annotations_of(ingress).get(CLASS_ANNOTATION) or ""
    )
