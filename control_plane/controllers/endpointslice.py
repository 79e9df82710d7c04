"""The EndpointSlice controller: for every Service with a selector, slices of at most 100
endpoints each, one set per group of resolved ports, owned by the Service. Terminating pods
stay in the slices with ``terminating: true`` (so kube-proxy can drain them); a Service with
no backends keeps one empty slice, as upstream does.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from control_plane.controllers.service_backends import (
    Backend,
    ServiceWatch,
    backends,
    by_ports,
    manages_endpoints,
)
from ku7s.api import meta
from ku7s.api.endpoint_slices import MANAGED_BY_LABEL, SERVICE_NAME_LABEL, service_key
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("endpointslice-controller")

MANAGED_BY = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100
API = "/apis/discovery.k8s.io/v1"


def render_endpoint(backend: Backend) -> Object:
    endpoint: Object = {
        "addresses": [backend.ip],
        "conditions": {
            "ready": backend.ready,
            "serving": backend.serving,
            "terminating": backend.terminating,
        },
        "targetRef": backend.target_ref(),
    }
    if backend.node_name:
        endpoint["nodeName"] = backend.node_name
    if backend.hostname:
        endpoint["hostname"] = backend.hostname
    return endpoint


def desired_slices(
    service: Object, found: list[Backend]
) -> list[tuple[list[Object], list[Object]]]:
    """(ports, endpoints) of each slice the Service should have."""
    groups = by_ports(found)
    if not groups:
        # An empty slice names the ports without numbers: no pod resolved them yet.
        named = [
            {"name": p.get("name", ""), "protocol": p.get("protocol", "TCP")}
            for p in (service.get("spec") or {}).get("ports") or []
        ]
        return [(named, [])]
    wanted: list[tuple[list[Object], list[Object]]] = []
    for ports, group in groups.items():
        rendered_ports = [p.to_api() for p in ports]
        for start in range(0, len(group), MAX_ENDPOINTS):
            chunk = [render_endpoint(b) for b in group[start : start + MAX_ENDPOINTS]]
            wanted.append((rendered_ports, chunk))
    return wanted


def slice_labels(service: Object) -> dict[str, str]:
    labels = {k: v for k, v in meta.labels_of(service).items() if k != MANAGED_BY_LABEL}
    labels[SERVICE_NAME_LABEL] = meta.name_of(service)
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    return labels


def owner_reference(service: Object) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": meta.name_of(service),
        "uid": meta.uid_of(service),
        "controller": True,
        "blockOwnerDeletion": True,
    }


class RecentWrites:
    """What this controller wrote and its informer has not shown yet: a slice made with
    generateName must not be made twice because the next reconcile came too soon."""

    def __init__(self) -> None:
        #: namespace/name -> the object as written, or None once deleted.
        self._objects: dict[str, Object | None] = {}

    def wrote(self, obj: Object) -> None:
        self._objects[object_key(obj)] = obj

    def deleted(self, obj: Object) -> None:
        self._objects[object_key(obj)] = None

    def seen(self, event: str, obj: Object) -> None:
        key = object_key(obj)
        if key not in self._objects:
            return
        written = self._objects[key]
        caught_up = event == "DELETED" if written is None else _version(obj) >= _version(written)
        if caught_up:
            del self._objects[key]

    def overlay(self, cached: list[Object], service: str) -> list[Object]:
        """The cached slices of a Service, as this controller last left them."""
        by_key = {object_key(o): o for o in cached}
        for key, obj in self._objects.items():
            if obj is None:
                by_key.pop(key, None)
            elif _service_of(obj) == [service]:
                by_key[key] = obj
        return sorted(by_key.values(), key=meta.name_of)


def _version(obj: Object) -> int:
    try:
        return int(meta.resource_version(obj))
    except ValueError:
        return 0


def _service_of(endpoint_slice: Object) -> list[str]:
    labels = meta.labels_of(endpoint_slice)
    return service_key(endpoint_slice) if labels.get(MANAGED_BY_LABEL) == MANAGED_BY else []


class EndpointSliceController(Controller):
    name: ClassVar[str] = "endpointslice-controller"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.watch = ServiceWatch.shared(self.factory, self.queue.add)
        self.slices = self.factory.informer(f"{API}/endpointslices")
        self.slices.add_index("service", _service_of)
        self.slices.on_change(self._slice_changed)
        self._written = RecentWrites()
        self.informers = [self.watch.services, self.watch.pods, self.slices]

    def _slice_changed(self, event: str, endpoint_slice: Object) -> None:
        self._written.seen(event, endpoint_slice)
        for key in _service_of(endpoint_slice):
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        path = f"{API}/namespaces/{namespace}/endpointslices"
        service = self.watch.services.get(key)
        existing = self._written.overlay(self.slices.by_index("service", key), key)
        if service is None or not manages_endpoints(service):
            for stale in existing:
                await self._delete(f"{path}/{meta.name_of(stale)}")
                self._written.deleted(stale)
            return
        existing = [s for s in existing if _owned_by(s, service)] + [
            s for s in existing if not _owned_by(s, service)
        ]
        labels = slice_labels(service)
        unused = list(existing)
        for ports, endpoints in desired_slices(
            service, backends(service, self.watch.pods_for(service))
        ):
            match = next((s for s in unused if (s.get("ports") or []) == ports), None)
            if match is None and unused:
                match = unused[0]
            if match is None:
                made = await self.client.create(
                    path,
                    {
                        "metadata": {
                            "generateName": f"{name}-",
                            "labels": labels,
                            "ownerReferences": [owner_reference(service)],
                        },
                        "addressType": "IPv4",
                        "ports": ports,
                        "endpoints": endpoints,
                    },
                )
                self._written.wrote(made)
                continue
            unused.remove(match)
            if (
                (match.get("ports") or []) == ports
                and (match.get("endpoints") or []) == endpoints
                and meta.labels_of(match) == labels
                and _owned_by(match, service)
            ):
                continue
            updated = {**match, "ports": ports, "endpoints": endpoints}
            updated["metadata"] = {
                **match["metadata"],
                "labels": labels,
                "ownerReferences": [owner_reference(service)],
            }
            replaced = await self.client.replace(f"{path}/{meta.name_of(match)}", updated)
            self._written.wrote(replaced)
        for stale in unused:
            await self._delete(f"{path}/{meta.name_of(stale)}")
            self._written.deleted(stale)

    async def _delete(self, path: str) -> None:
        try:
            await self.client.delete(path)
        except APIStatusError as e:
            if e.code != 404:
                raise


def _owned_by(endpoint_slice: Object, service: Object) -> bool:
    return any(
        r.get("uid") == meta.uid_of(service)
        for r in endpoint_slice["metadata"].get("ownerReferences") or []
    )
