"""The cloud service controller: a Service of type LoadBalancer gets a load balancer from the
cloud, forwarding its ports to their node ports on the Ready nodes (only the nodes with a
ready endpoint when ``externalTrafficPolicy: Local``), and its address in
``status.loadBalancer.ingress``. The load balancer goes when the Service does or changes
type; a finalizer, as upstream's, makes sure of it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Protocol

from control_plane.cloud.docker_cloud import LoadBalancer
from ku7s.api import meta
from ku7s.api.endpoint_slices import service_key
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.names import DOCKER_HOST_LABEL

Object = dict[str, Any]

log = logging.getLogger("cloud-service-controller")

FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


class LoadBalancers(Protocol):
    async def load_balancers(self) -> list[LoadBalancer]: ...

    async def ensure_load_balancer(self, service_uid: str, config: dict[str, Any]) -> str: ...

    async def delete_load_balancer(self, name: str) -> None: ...


def is_load_balancer(service: Object | None) -> bool:
    return bool(
        service
        and (service.get("spec") or {}).get("type") == "LoadBalancer"
        and not service["metadata"].get("deletionTimestamp")
    )


def internal_ip(node: Object) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address", ""))
    return ""


def backend_nodes(service: Object, nodes: list[Object], slices: list[Object]) -> list[str]:
    """Addresses of the nodes the load balancer sends to, sorted. Nodes on other Docker
    hosts are left out: the load balancer's container has no route to their networks."""
    eligible = [
        n
        for n in nodes
        if meta.is_node_ready(n)
        and EXCLUDE_LABEL not in meta.labels_of(n)
        and DOCKER_HOST_LABEL not in meta.labels_of(n)
    ]
    if (service.get("spec") or {}).get("externalTrafficPolicy") == "Local":
        hosting = {
            e.get("nodeName")
            for s in slices
            for e in s.get("endpoints") or []
            if (e.get("conditions") or {}).get("ready") is not False
        }
        eligible = [n for n in eligible if meta.name_of(n) in hosting]
    return sorted(ip for n in eligible if (ip := internal_ip(n)))


def proxy_config(service: Object, backends: list[str]) -> dict[str, Any]:
    ports = [
        {
            "port": int(p["port"]),
            "nodePort": int(p["nodePort"]),
            "protocol": p.get("protocol", "TCP"),
        }
        for p in (service.get("spec") or {}).get("ports") or []
        if p.get("nodePort") and p.get("protocol", "TCP") in ("TCP", "UDP")
    ]
    return {"ports": ports, "backends": backends}


class CloudServiceController(Controller):
    name: ClassVar[str] = "cloud-service-controller"

    def __init__(
        self, client: APIClient, cloud: LoadBalancers, informers: InformerFactory | None = None
    ) -> None:
        super().__init__(client, informers, workers=2)
        self._cloud = cloud
        self.services = self.factory.informer("/api/v1/services")
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.slices = self.factory.informer("/apis/discovery.k8s.io/v1/endpointslices")
        self.slices.add_index("service", service_key)
        self.services.on_change(lambda _, s: self.queue.add(object_key(s)))
        self.nodes.on_change(lambda *_: self._all_load_balancers())
        self.slices.on_change(self._slice_changed)
        self.informers = [self.services, self.nodes, self.slices]
        #: The Service uid behind each key whose load balancer exists.
        self._uids: dict[str, str] = {}

    def _all_load_balancers(self) -> None:
        for service in self.services.list():
            if is_load_balancer(service):
                self.queue.add(object_key(service))

    def _slice_changed(self, _: str, endpoint_slice: Object) -> None:
        for key in service_key(endpoint_slice):
            if is_load_balancer(self.services.get(key)):
                self.queue.add(key)

    async def run(self, stop: asyncio.Event) -> None:
        sweep = asyncio.create_task(self._sweep_orphans())
        try:
            await super().run(stop)
        finally:
            sweep.cancel()

    async def _sweep_orphans(self) -> None:
        """Load balancers of Services deleted while this controller was down."""
        await asyncio.gather(*(i.synced.wait() for i in self.informers))
        wanted = {meta.uid_of(s) for s in self.services.list() if is_load_balancer(s)}
        for lb in await self._cloud.load_balancers():
            if lb.service_uid not in wanted:
                log.info("removing load balancer %s: its Service is gone", lb.name)
                await self._cloud.delete_load_balancer(lb.name)

    async def reconcile(self, key: str) -> None:
        service = self.services.get(key)
        namespace, _, name = key.partition("/")
        path = f"/api/v1/namespaces/{namespace}/services/{name}"
        if is_load_balancer(service):
            assert service is not None
            await self._ensure(path, key, service)
            return
        uid = meta.uid_of(service) if service else self._uids.get(key, "")
        for lb in await self._cloud.load_balancers():
            if uid and lb.service_uid == uid:
                await self._cloud.delete_load_balancer(lb.name)
                log.info("removed the load balancer of %s", key)
        self._uids.pop(key, None)
        if service is None:
            return
        try:
            ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
            if ingress and not service["metadata"].get("deletionTimestamp"):
                await self.client.patch(
                    f"{path}/status", {"status": {"loadBalancer": {"ingress": None}}}
                )
            await self._set_finalizer(path, service, present=False)
        except APIStatusError as e:
            if e.code != 404:
                raise

    async def _ensure(self, path: str, key: str, service: Object) -> None:
        await self._set_finalizer(path, service, present=True)
        backends = backend_nodes(service, self.nodes.list(), self.slices.by_index("service", key))
        config = proxy_config(service, backends)
        ip = await self._cloud.ensure_load_balancer(meta.uid_of(service), config)
        self._uids[key] = meta.uid_of(service)
        wanted = [{"ip": ip, "ipMode": "VIP"}]
        status = (service.get("status") or {}).get("loadBalancer") or {}
        if ip and status.get("ingress") != wanted:
            await self.client.patch(
                f"{path}/status", {"status": {"loadBalancer": {"ingress": wanted}}}
            )
            log.info("%s: load balancer at %s -> nodes %s", key, ip, backends)

    async def _set_finalizer(self, path: str, service: Object, *, present: bool) -> None:
        finalizers = list(service["metadata"].get("finalizers") or [])
        if (FINALIZER in finalizers) == present:
            return
        finalizers = (
            [*finalizers, FINALIZER] if present else [f for f in finalizers if f != FINALIZER]
        )
        await self.client.patch(
            path,
            {
                "metadata": {
                    "finalizers": finalizers or None,
                    "resourceVersion": meta.resource_version(service),
                }
            },
        )
