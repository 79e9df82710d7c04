"""Which pods back a Service, on which ports: the part the Endpoints and EndpointSlice
controllers share.

A pod backs a Service when the Service's selector matches its labels, it has an IP and it
has not finished. Each Service port's ``targetPort`` is resolved against the pod (a number,
or the name of one of its container ports); pods that resolve to the same ports are
grouped, as upstream groups them into subsets and slices.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import labelled, namespace_index, pod_informer
from ku7s.api import meta
from ku7s.client.informer import Informer, InformerFactory, object_key

Object = dict[str, Any]


@dataclass(frozen=True, order=True)
class BackendPort:
    name: str
    port: int
    protocol: str
    app_protocol: str = ""

    def to_api(self) -> Object:
        out: Object = {"name": self.name, "port": self.port, "protocol": self.protocol}
        if self.app_protocol:
            out["appProtocol"] = self.app_protocol
        return out


@dataclass(frozen=True)
class Backend:
    pod: Object
    ip: str
    #: The pod's Ready condition (or publishNotReadyAddresses).
    serving: bool
    terminating: bool
    ports: tuple[BackendPort, ...]
    hostname: str = ""

    @property
    def ready(self) -> bool:
        return self.serving and not self.terminating

    @property
    def node_name(self) -> str:
        return str((self.pod.get("spec") or {}).get("nodeName") or "")

    def target_ref(self) -> Object:
        m = self.pod["metadata"]
        return {"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"]}


def selects(service: Object, pod: Object) -> bool:
    """A Service's selector is a plain map; an empty one selects nothing."""
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return False
    labels = meta.labels_of(pod)
    return all(labels.get(k) == v for k, v in selector.items())


def manages_endpoints(service: Object) -> bool:
    """Services without a selector (and ExternalName ones) keep hand-made endpoints."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def resolve_port(service_port: Object, pod: Object) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def backends(service: Object, pods: list[Object]) -> list[Backend]:
    """The Service's backends, sorted by IP so that what is written is stable."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    name = meta.name_of(service)
    found: list[Backend] = []
    for pod in pods:
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or pc.is_finished(pod) or not selects(service, pod):
            continue
        ports: list[BackendPort] = []
        for service_port in spec.get("ports") or []:
            number = resolve_port(service_port, pod)
            if number is not None:
                ports.append(
                    BackendPort(
                        service_port.get("name", ""),
                        number,
                        service_port.get("protocol", "TCP"),
                        service_port.get("appProtocol", ""),
                    )
                )
        if spec.get("ports") and not ports:
            continue
        pod_spec = pod.get("spec") or {}
        hostname = pod_spec.get("hostname", "") if pod_spec.get("subdomain") == name else ""
        found.append(
            Backend(
                pod=pod,
                ip=ip,
                serving=publish_not_ready or pc.is_ready(pod),
                terminating=pc.is_terminating(pod),
                ports=tuple(ports),
                hostname=hostname,
            )
        )
    found.sort(key=lambda b: _address_key(b.ip))
    return found


def _address_key(ip: str) -> tuple[int, int]:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return (0, 0)
    return (address.version, int(address))


def by_ports(found: list[Backend]) -> dict[tuple[BackendPort, ...], list[Backend]]:
    """Backends grouped by their resolved ports, the groups in a stable order."""
    groups: dict[tuple[BackendPort, ...], list[Backend]] = {}
    for backend in found:
        groups.setdefault(backend.ports, []).append(backend)
    return dict(sorted(groups.items()))


class ServiceWatch:
    """Turns pod and Service events into the keys of the Services to reconcile.

    A pod's labels may change so that a Service no longer selects it; the Services each
    pod was last seen backing are remembered, so that Service is reconciled too.
    """

    def __init__(self, services: Informer, pods: Informer, enqueue: Callable[[str], None]) -> None:
        self.services = services
        self.pods = pods
        self._enqueue = enqueue
        self._backing: dict[str, set[str]] = {}
        services.on_change(lambda _, service: enqueue(object_key(service)))
        pods.on_change(self._pod_changed)

    @classmethod
    def shared(cls, factory: InformerFactory, enqueue: Callable[[str], None]) -> ServiceWatch:
        """Over the factory's shared Service and pod informers."""
        services = factory.informer("/api/v1/services")
        services.add_index("namespace", namespace_index)
        return cls(services, pod_informer(factory), enqueue)

    def _pod_changed(self, event: str, pod: Object) -> None:
        key = object_key(pod)
        now: set[str] = set()
        if event != "DELETED":
            namespace = meta.namespace_of(pod)
            now = {
                object_key(s)
                for s in self.services.by_index("namespace", namespace)
                if selects(s, pod)
            }
        before = self._backing.pop(key, set())
        if now:
            self._backing[key] = now
        for service_key in now | before:
            self._enqueue(service_key)

    def pods_for(self, service: Object) -> list[Object]:
        """The pods the Service's selector may pick (backends() checks each)."""
        selector = dict((service.get("spec") or {}).get("selector") or {})
        return labelled(self.pods, meta.namespace_of(service), selector)
