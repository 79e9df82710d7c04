"""The Endpoints controller: for every Service with a selector, an Endpoints object of the
same name listing the ready pods (``addresses``) and the others (``notReadyAddresses``),
grouped into subsets by resolved ports. Terminating pods are left out, as upstream does.
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
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("endpoints-controller")

HEADLESS_LABEL = "service.kubernetes.io/headless"


def render_subsets(found: list[Backend]) -> list[Object]:
    subsets: list[Object] = []
    for ports, group in by_ports([b for b in found if not b.terminating]).items():
        subset: Object = {}
        ready = [_address(b) for b in group if b.serving]
        not_ready = [_address(b) for b in group if not b.serving]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = [p.to_api() for p in ports]
        subsets.append(subset)
    return subsets


def _address(backend: Backend) -> Object:
    address: Object = {"ip": backend.ip, "targetRef": backend.target_ref()}
    if backend.node_name:
        address["nodeName"] = backend.node_name
    if backend.hostname:
        address["hostname"] = backend.hostname
    return address


def endpoints_labels(service: Object) -> dict[str, str]:
    labels = dict(meta.labels_of(service))
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


class EndpointsController(Controller):
    name: ClassVar[str] = "endpoints-controller"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.watch = ServiceWatch.shared(self.factory, self.queue.add)
        self.endpoints = self.factory.informer("/api/v1/endpoints")
        self.endpoints.on_change(self._endpoints_changed)
        self.informers = [self.watch.services, self.watch.pods, self.endpoints]

    def _endpoints_changed(self, _: str, endpoints: Object) -> None:
        """Edits to managed Endpoints are undone; others (no such Service) are left alone."""
        key = object_key(endpoints)
        if self.watch.services.get(key) is not None:
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        path = f"/api/v1/namespaces/{namespace}/endpoints"
        service = self.watch.services.get(key)
        current = self.endpoints.get(key)
        if service is None:
            if current is not None:
                await self._delete(f"{path}/{name}")
            return
        if not manages_endpoints(service):
            return
        subsets = render_subsets(backends(service, self.watch.pods_for(service)))
        labels = endpoints_labels(service)
        if current is None:
            body = {"metadata": {"name": name, "labels": labels}, "subsets": subsets}
            await self.client.create(path, body)  # a 409 (not yet seen) retries
            return
        if (current.get("subsets") or []) == subsets and meta.labels_of(current) == labels:
            return
        updated = {**current, "subsets": subsets}
        updated["metadata"] = {**current["metadata"], "labels": labels}
        await self.client.replace(f"{path}/{name}", updated)

    async def _delete(self, path: str) -> None:
        try:
            await self.client.delete(path)
        except APIStatusError as e:
            if e.code != 404:
                raise
