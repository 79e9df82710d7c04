"""Objects every cluster has from its first second: the four default namespaces with their
default service accounts, the ``kubernetes`` Service pointing at this apiserver, the
``kube-root-ca.crt`` ConfigMap of every namespace (the CA pods verify the API with), and the
``kube-proxy`` ConfigMap (as kubeadm writes it) from which every kube-proxy reads the
cluster's pod network, the two system priority classes, the default StorageClass
``standard`` (node-local directories, as kind's) and the default IngressClass ``ku7s``."""

from __future__ import annotations

import logging
from typing import Any

from control_plane.apiserver import errors
from control_plane.apiserver.kinds.namespace import root_ca_config_map
from control_plane.apiserver.kinds.priority_class import SYSTEM_PRIORITY_CLASSES
from control_plane.apiserver.registry import ListOptions, Registry
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.api.ingresses import DEFAULT_INGRESS_CLASS

log = logging.getLogger("kube-apiserver")

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def _ensure(
    registry: Registry, plural: str, namespace: str, obj: dict[str, Any], group: str = ""
) -> None:
    kind = registry.kinds.get(plural, group)
    if await registry.find(kind, namespace, obj["metadata"]["name"]) is not None:
        return
    try:
        await registry.create(kind, namespace, obj)
        log.info("created %s %s/%s", plural, namespace, obj["metadata"]["name"])
    except errors.APIError as e:
        if e.reason != "AlreadyExists":
            raise


async def ensure_default_namespaces(registry: Registry) -> None:
    for name in DEFAULT_NAMESPACES:
        await _ensure(registry, "namespaces", "", {"metadata": {"name": name}})
        await _ensure(registry, "serviceaccounts", name, {"metadata": {"name": "default"}})


async def ensure_system_priority_classes(registry: Registry) -> None:
    for priority_class in SYSTEM_PRIORITY_CLASSES:
        await _ensure(registry, "priorityclasses", "", dict(priority_class), "scheduling.k8s.io")


#: kind's default class, served by ku7s' own local-path provisioner.
STANDARD_STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "standard",
        "annotations": {pv.DEFAULT_CLASS: "true"},
    },
    "provisioner": pv.LOCAL_PATH_PROVISIONER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": pv.WAIT_FOR_FIRST_CONSUMER,
}


#: The mock cloud's disks: attached to one node at a time, so a pod moved to another node
#: finds its data there.
DISK_STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": pv.DISK_CLASS},
    "provisioner": pv.DISK_DRIVER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": pv.WAIT_FOR_FIRST_CONSUMER,
    "allowVolumeExpansion": True,
}
DISK_DRIVER = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "CSIDriver",
    "metadata": {"name": pv.DISK_DRIVER},
    "spec": {
        "attachRequired": True,
        "podInfoOnMount": False,
        "volumeLifecycleModes": ["Persistent"],
    },
}


async def ensure_default_classes(registry: Registry) -> None:
    """The StorageClasses and IngressClass of ku7s' own add-ons (`standard` the default)."""
    for storage_class in (STANDARD_STORAGE_CLASS, DISK_STORAGE_CLASS):
        await _ensure(registry, "storageclasses", "", meta.clone(storage_class), "storage.k8s.io")
    await _ensure(registry, "csidrivers", "", meta.clone(DISK_DRIVER), "storage.k8s.io")
    await _ensure(
        registry, "ingressclasses", "", meta.clone(DEFAULT_INGRESS_CLASS), "networking.k8s.io"
    )


async def ensure_root_ca_config_maps(registry: Registry, ca_pem: str) -> None:
    """Namespaces made before the cluster published its CA get the ConfigMap now."""
    namespaces = await registry.list(registry.kinds.get("namespaces"), None, ListOptions())
    for namespace in namespaces.items:
        name = namespace["metadata"]["name"]
        await _ensure(registry, "configmaps", name, root_ca_config_map(ca_pem))


async def ensure_kubernetes_service(
    registry: Registry, cluster_ip: str, endpoint_ip: str, port: int = 6443
) -> None:
    """The in-cluster address of the API: Service default/kubernetes and its endpoints,
    rewritten at every start because the control plane's address may change."""
    await _ensure(
        registry,
        "services",
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": cluster_ip,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            },
        },
    )
    subsets = [
        {
            "addresses": [{"ip": endpoint_ip}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }
    ]
    endpoints = registry.kinds.get("endpoints")
    current = await registry.find(endpoints, "default", "kubernetes")
    if current is None:
        await _ensure(
            registry,
            "endpoints",
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                },
                "subsets": subsets,
            },
        )
    elif current.get("subsets") != subsets:
        await registry.mutate(
            endpoints, "default", "kubernetes", lambda e: {**e, "subsets": subsets}
        )
    # Written here, not by the EndpointSlice controller (the Service has no selector).
    slice_labels = {"kubernetes.io/service-name": "kubernetes"}
    slice_endpoints = [{"addresses": [endpoint_ip], "conditions": {"ready": True}}]
    slice_body = {
        "metadata": {"name": "kubernetes", "labels": slice_labels},
        "addressType": "IPv4",
        "endpoints": slice_endpoints,
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    slices = registry.kinds.get("endpointslices", "discovery.k8s.io")
    current_slice = await registry.find(slices, "default", "kubernetes")
    if current_slice is None:
        await _ensure(registry, "endpointslices", "default", slice_body, "discovery.k8s.io")
    elif (
        current_slice.get("endpoints") != slice_endpoints
        or current_slice["metadata"].get("labels") != slice_labels
    ):
        await registry.mutate(
            slices,
            "default",
            "kubernetes",
            lambda s: {
                **s,
                "metadata": {**s["metadata"], "labels": slice_labels},
                "endpoints": slice_endpoints,
            },
        )


def kube_proxy_config(cluster_cidr: str) -> str:
    return (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
        "kind: KubeProxyConfiguration\n"
        "mode: iptables\n"
        f"clusterCIDR: {cluster_cidr}\n"
    )


async def ensure_kube_proxy_config(registry: Registry, cluster_cidr: str) -> None:
    body = {
        "metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": kube_proxy_config(cluster_cidr)},
    }
    await ensure_system_config_map(registry, body)


async def ensure_system_config_map(registry: Registry, body: dict[str, Any]) -> None:
    """A kube-system ConfigMap the control plane publishes, its data rewritten when it
    changed (kube-proxy's configuration, the front proxy's CA)."""
    name, data = body["metadata"]["name"], body["data"]
    configmaps = registry.kinds.get("configmaps")
    current = await registry.find(configmaps, "kube-system", name)
    if current is None:
        await _ensure(registry, "configmaps", "kube-system", body)
    elif current.get("data") != data:
        await registry.mutate(configmaps, "kube-system", name, lambda c: {**c, "data": data})
