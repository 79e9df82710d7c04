"""EndpointSlices name their Service by a label; every component that follows Services
through slices (controllers, kube-proxy, DNS, the cloud) indexes them by it."""

from __future__ import annotations

from typing import Any

from ku7s.api import meta

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


def service_key(endpoint_slice: dict[str, Any]) -> list[str]:
    """``namespace/service`` of the slice's Service (an informer index function)."""
    name = meta.labels_of(endpoint_slice).get(SERVICE_NAME_LABEL)
    return [f"{meta.namespace_of(endpoint_slice)}/{name}"] if name else []


#: On a Service without selector whose endpoints are servers of the control plane rather
#: than pods (the cluster DNS): the labels (JSON) of the pods they stand for, so that
#: network policies selecting those pods (k8s-app=kube-dns) select the servers.
STAND_IN_POD_LABELS = "ku7s.dev/endpoint-pod-labels"
