"""Services: defaults, a cluster IP from the service subnet (and node ports for NodePort and
LoadBalancer types), immutable cluster IPs, and kubectl's printer."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Protocol

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.pod_spec import PROTOCOLS
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import label_selector_string

TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class ServiceAllocations(Protocol):
    """Where cluster IPs and node ports come from (allocators.py)."""

    async def cluster_ip(self, requested: str | None, service: str) -> str: ...
    async def node_port(self, requested: int | None, service: str) -> int: ...


def _uses_node_ports(spec: Object) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer") and not (
        spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False
    )


def _ports_cell(spec: Object) -> str:
    cells = []
    for port in spec.get("ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        cells.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(cells) or "<none>"


def _external_ip_cell(obj: Object) -> str:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    ips = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ips += [i.get("ip") or i.get("hostname") for i in ingress]
        if not ips:
            return "<pending>"
    return ",".join(str(i) for i in ips) or "<none>"


class ServiceKind(Kind):
    returns_deleted_object = True
    resource = ResourceType(
        "",
        "v1",
        "services",
        "service",
        "Service",
        True,
        short_names=("svc",),
        categories=("all",),
        subresources=("status", "proxy"),
    )
    resets_status_on_create = True
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Type", "string", "", 0),
        ("Cluster-IP", "string", "", 0),
        ("External-IP", "string", "", 0),
        ("Port(s)", "string", "", 0),
        AGE,
        ("Selector", "string", "", 1),
    ]

    def __init__(self, allocations: ServiceAllocations | None = None) -> None:
        self.allocations = allocations

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        if spec["type"] == "ExternalName":
            return
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])

    def initial_status(self, obj: Object) -> Object:
        return {"loadBalancer": {}}

    async def admit(self, obj: Object, old: Object | None) -> None:
        """Allocate the cluster IP and node ports a create or a type change needs."""
        spec = obj.get("spec")
        if not isinstance(spec, dict) or self.allocations is None:
            return
        name = meta.name_of(obj)
        if spec.get("type") == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        old_spec = (old or {}).get("spec") or {}
        if old and old_spec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if spec.get("clusterIP") != "None" and (old is None or not old_spec.get("clusterIP")):
            spec["clusterIP"] = await self.allocations.cluster_ip(spec.get("clusterIP"), name)
        if spec.get("clusterIP"):
            spec["clusterIPs"] = [spec["clusterIP"]]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        old_ports = {
            (p.get("port"), p.get("protocol")): p.get("nodePort")
            for p in old_spec.get("ports") or []
            if isinstance(p, dict)
        }
        for port in spec.get("ports") or []:
            if not isinstance(port, dict):
                continue
            if not _uses_node_ports(spec):
                port.pop("nodePort", None)
                continue
            kept = old_ports.get((port.get("port"), port.get("protocol")))
            if not port.get("nodePort") and kept:
                port["nodePort"] = kept
            elif port.get("nodePort") != kept or not kept:
                port["nodePort"] = await self.allocations.node_port(port.get("nodePort"), name)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        name = meta.name_of(obj)
        if name and not _DNS1035.match(name):
            errors.invalid(
                "metadata.name",
                name,
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character "
                "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                "'[a-z]([-a-z0-9]*[a-z0-9])?')",
            )
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        errors.one_of("spec.type", spec.get("type"), TYPES)
        if spec.get("type") == "ExternalName":
            if not spec.get("externalName"):
                errors.required("spec.externalName")
            return
        ports = spec.get("ports") or []
        if not ports and spec.get("clusterIP") != "None":
            errors.required("spec.ports")
        names: set[str] = set()
        for i, port in enumerate(ports):
            path = f"spec.ports[{i}]"
            if not isinstance(port, dict):
                errors.invalid(path, port, "must be an object")
                continue
            errors.port(f"{path}.port", port.get("port"))
            errors.one_of(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
            port_name = port.get("name")
            if len(ports) > 1 and not port_name:
                errors.required(f"{path}.name")
            elif port_name:
                errors.dns_label(f"{path}.name", port_name)
                if port_name in names:
                    errors.duplicate(f"{path}.name", port_name)
                names.add(port_name)
            target = port.get("targetPort")
            if isinstance(target, int) and not isinstance(target, bool):
                errors.port(f"{path}.targetPort", target)
        errors.one_of("spec.sessionAffinity", spec.get("sessionAffinity"), ("None", "ClientIP"))
        if spec.get("selector") is not None:
            errors.labels("spec.selector", spec.get("selector"))

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new.get("spec", {}).get("type") != "ExternalName" and new_ip != old_ip:
            errors.immutable("spec.clusterIP", new_ip)

    def row(self, obj: Object) -> list[Any]:
        spec = obj.get("spec") or {}
        selector = spec.get("selector") or {}
        return [
            meta.name_of(obj),
            spec.get("type", ""),
            spec.get("clusterIP") or "<none>",
            _external_ip_cell(obj),
            _ports_cell(spec),
            age(obj),
            label_selector_string({"matchLabels": selector}) or "<none>",
        ]
