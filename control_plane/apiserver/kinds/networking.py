"""networking.k8s.io/v1 Ingresses, IngressClasses and NetworkPolicies: stored, validated,
listed and watched as upstream does; acting on them is the add-ons' work."""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.workload import validate_selector
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import label_selector_string

PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")


def _validate_backend(path: str, backend: Any, errors: FieldErrors) -> None:
    if not isinstance(backend, dict):
        errors.required(path)
        return
    service, resource = backend.get("service"), backend.get("resource")
    if service and resource:
        errors.invalid(path, "", "cannot set both resource and service backends")
    elif not service and not resource:
        errors.invalid(path, "", "resource or service backend is required")
    if isinstance(service, dict):
        errors.dns_label(f"{path}.service.name", service.get("name"))
        port = service.get("port") or {}
        if port.get("name") and port.get("number"):
            errors.invalid(f"{path}.service.port", port, "cannot set both port name & port number")
        elif not port.get("name") and not port.get("number"):
            errors.invalid(f"{path}.service.port", port, "port name or number is required")
        elif port.get("number") is not None:
            errors.port(f"{path}.service.port.number", port["number"])


class IngressKind(Kind):
    resource = ResourceType(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        True,
        short_names=("ing",),
        subresources=("status",),
    )
    tracks_generation = True
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Class", "string", "", 0),
        ("Hosts", "string", "", 0),
        ("Address", "string", "", 0),
        ("Ports", "string", "", 0),
        AGE,
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        if not spec.get("defaultBackend") and not spec.get("rules"):
            errors.invalid("spec", "", "either `defaultBackend` or `rules` must be specified")
        if spec.get("defaultBackend") is not None:
            _validate_backend("spec.defaultBackend", spec["defaultBackend"], errors)
        if spec.get("ingressClassName"):
            errors.dns_subdomain("spec.ingressClassName", spec["ingressClassName"])
        for i, rule in enumerate(spec.get("rules") or []):
            path = f"spec.rules[{i}]"
            host = (rule or {}).get("host")
            if host:
                errors.dns_subdomain(f"{path}.host", host.removeprefix("*."))
            for j, http_path in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
                ppath = f"{path}.http.paths[{j}]"
                path_type = (http_path or {}).get("pathType")
                errors.one_of(f"{ppath}.pathType", path_type, PATH_TYPES, required=True)
                value = (http_path or {}).get("path", "")
                if path_type in ("Exact", "Prefix") and not str(value).startswith("/"):
                    errors.invalid(f"{ppath}.path", value, "must be an absolute path")
                _validate_backend(f"{ppath}.backend", (http_path or {}).get("backend"), errors)

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
        addresses = [
            i.get("ip") or i.get("hostname", "")
            for i in (status.get("loadBalancer") or {}).get("ingress") or []
        ]
        return [
            meta.name_of(obj),
            spec.get("ingressClassName") or "<none>",
            ",".join(hosts) or "*",
            ",".join(addresses),
            "80, 443" if spec.get("tls") else "80",
            age(obj),
        ]


class IngressClassKind(Kind):
    resource = ResourceType(
        "networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Controller", "string", "", 0),
        ("Parameters", "string", "", 0),
        AGE,
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        controller = (obj.get("spec") or {}).get("controller")
        if not controller:
            errors.required("spec.controller")
        elif len(controller) > 250:
            errors.invalid("spec.controller", controller, "must be no more than 250 characters")

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if (old.get("spec") or {}).get("controller") != (new.get("spec") or {}).get("controller"):
            errors.immutable("spec.controller", (new.get("spec") or {}).get("controller"))

    def row(self, obj: Object) -> list[Any]:
        spec = obj.get("spec") or {}
        parameters = spec.get("parameters")
        shown = "<none>"
        if parameters:
            group = parameters.get("apiGroup")
            shown = (
                f"{parameters.get('kind')}.{group}/{parameters.get('name')}"
                if group
                else f"{parameters.get('kind')}/{parameters.get('name')}"
            )
        return [meta.name_of(obj), spec.get("controller", ""), shown, age(obj)]


class NetworkPolicyKind(Kind):
    resource = ResourceType(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        True,
        short_names=("netpol",),
    )
    tracks_generation = True
    columns: ClassVar[list[Column]] = [NAME, ("Pod-Selector", "string", "", 0), AGE]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        validate_selector(
            "spec.podSelector",
            spec.get("podSelector", {}),
            errors,
            "networkpolicy",
            allow_empty=True,
        )
        for i, policy_type in enumerate(spec.get("policyTypes") or []):
            errors.one_of(f"spec.policyTypes[{i}]", policy_type, POLICY_TYPES)
        for direction, peers in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                path = f"spec.{direction}[{i}]"
                for j, port in enumerate((rule or {}).get("ports") or []):
                    self._port(f"{path}.ports[{j}]", port or {}, errors)
                for j, peer in enumerate((rule or {}).get(peers) or []):
                    self._peer(f"{path}.{peers}[{j}]", peer or {}, errors)

    @staticmethod
    def _port(path: str, port: Object, errors: FieldErrors) -> None:
        errors.one_of(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
        number, end = port.get("port"), port.get("endPort")
        if isinstance(number, int):
            errors.port(f"{path}.port", number)
        if end is not None:
            if not isinstance(number, int):
                errors.forbidden(
                    f"{path}.endPort", "may not be specified when `port` is non-numeric"
                )
            elif not isinstance(end, int) or end < number:
                errors.invalid(f"{path}.endPort", end, "must be greater than or equal to `port`")

    @staticmethod
    def _peer(path: str, peer: Object, errors: FieldErrors) -> None:
        block = peer.get("ipBlock")
        if block is not None and (
            peer.get("podSelector") is not None or peer.get("namespaceSelector") is not None
        ):
            errors.forbidden(path, "may not specify more than 1 peer type")
        if (
            block is None
            and peer.get("podSelector") is None
            and peer.get("namespaceSelector") is None
        ):
            errors.required(path, "must specify a peer")
        if isinstance(block, dict):
            try:
                cidr = ipaddress.ip_network(block.get("cidr", ""), strict=False)
            except ValueError:
                errors.invalid(
                    f"{path}.ipBlock.cidr",
                    block.get("cidr"),
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )
                return
            for k, text in enumerate(block.get("except") or []):
                try:
                    inner = ipaddress.ip_network(text, strict=False)
                except ValueError:
                    errors.invalid(
                        f"{path}.ipBlock.except[{k}]", text, "must be a valid CIDR value"
                    )
                    continue
                if inner.version != cidr.version or not inner.subnet_of(cidr) or inner == cidr:  # type: ignore[arg-type]
                    errors.invalid(
                        f"{path}.ipBlock.except[{k}]", text, "must be a strict subset of `cidr`"
                    )
        for part in ("podSelector", "namespaceSelector"):
            if peer.get(part) is not None:
                validate_selector(
                    f"{path}.{part}", peer[part], errors, "networkpolicy", allow_empty=True
                )

    def row(self, obj: Object) -> list[Any]:
        selector = label_selector_string((obj.get("spec") or {}).get("podSelector"))
        return [meta.name_of(obj), selector or "<none>", age(obj)]
