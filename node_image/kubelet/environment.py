"""A container's environment, as upstream's kubelet builds it.

Lowest first: the service variables of the pod's namespace (``NAME_SERVICE_HOST`` and the
docker-link forms), then ``envFrom`` sources, then ``env`` entries, each of which may
refer to variables defined before it as ``$(NAME)``. The same expansion applies to the
container's command and args.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from ku7s.api.quantity import parse_quantity

Object = dict[str, Any]

_VALID_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ConfigError(Exception):
    """The container cannot be configured yet (CreateContainerConfigError upstream)."""


class ObjectSource(Protocol):
    """Objects of the pod's namespace, read from the control plane."""

    async def get(self, resource: str, namespace: str, name: str) -> Object | None: ...

    async def list(self, resource: str, namespace: str) -> list[Object]: ...

    def forget(self, namespace: str) -> None:
        """Drop what is remembered of the namespace's objects: the next reads ask again."""
        ...


def expand(text: str, variables: dict[str, str]) -> str:
    """Replace $(NAME) by its value; $$ is a literal $; unknown names stay as written."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "$" and i + 1 < n:
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
                continue
            if following == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(variables.get(name, text[i : end + 1]))
                    i = end + 1
                    continue
        out.append(char)
        i += 1
    return "".join(out)


def service_variables(services: Iterable[Object]) -> dict[str, str]:
    """NAME_SERVICE_HOST, NAME_SERVICE_PORT(_PORTNAME) and NAME_PORT_80_TCP... for each
    service with a cluster IP."""
    env: dict[str, str] = {}
    for service in sorted(services, key=lambda s: s.get("metadata", {}).get("name", "")):
        spec = service.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                name = port["name"].upper().replace("-", "_")
                env[f"{prefix}_SERVICE_PORT_{name}"] = str(port.get("port"))
        first = ports[0]
        protocol = str(first.get("protocol", "TCP")).lower()
        env[f"{prefix}_PORT"] = f"{protocol}://{ip}:{first.get('port')}"
        for port in ports:
            protocol = str(port.get("protocol", "TCP"))
            base = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
            env[base] = f"{protocol.lower()}://{ip}:{port.get('port')}"
            env[f"{base}_PROTO"] = protocol.lower()
            env[f"{base}_PORT"] = str(port.get("port"))
            env[f"{base}_ADDR"] = ip
    return env


def field_value(pod: Object, path: str) -> str:
    """The downward API's fieldRef paths."""
    metadata, spec, status = (
        pod.get("metadata") or {},
        pod.get("spec") or {},
        pod.get("status") or {},
    )
    simple = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path])
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((metadata.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = metadata.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldRef path {path!r}")


def resource_value(
    pod: Object, container_name: str, resource: str, divisor: str | None, node_allocatable: Object
) -> str:
    """The downward API's resourceFieldRef: a request or limit, divided and rounded up;
    a limit not set is the node's allocatable amount."""
    container = next(
        (
            c
            for c in (pod.get("spec") or {}).get("containers") or []
            if c.get("name") == container_name
        ),
        None,
    )
    if container is None:
        raise ConfigError(f"resourceFieldRef names unknown container {container_name!r}")
    kind, _, name = resource.partition(".")
    resources = (container.get("resources") or {}).get(kind) or {}
    raw = resources.get(name)
    if raw is None and kind == "limits":
        raw = node_allocatable.get(name)
    if raw is None:
        return "0"
    value = parse_quantity(raw)
    unit = parse_quantity(divisor) if divisor else Decimal(1)
    return str(math.ceil(value / unit))


def _decoded(secret: Object) -> dict[str, str]:
    data = {
        k: base64.b64decode(v).decode(errors="replace")
        for k, v in (secret.get("data") or {}).items()
    }
    data.update(secret.get("stringData") or {})
    return data


async def _source_data(
    objects: ObjectSource, resource: str, namespace: str, name: str, optional: bool
) -> dict[str, str] | None:
    found = await objects.get(resource, namespace, name)
    if found is None:
        if optional:
            return None
        singular = "configmap" if resource == "configmaps" else "secret"
        raise ConfigError(f'{singular} "{name}" not found')
    if resource == "secrets":
        return _decoded(found)
    return {k: str(v) for k, v in (found.get("data") or {}).items()}


async def container_environment(
    pod: Object,
    container: Object,
    objects: ObjectSource,
    node_allocatable: Object,
) -> dict[str, str]:
    """The variables in the order later entries override earlier ones."""
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    namespace = metadata.get("namespace", "")
    env: dict[str, str] = {}
    if spec.get("enableServiceLinks", True):
        env.update(service_variables(await objects.list("services", namespace)))
    # The API server's own service is announced to every pod, service links or not, as
    # upstream does: in-cluster clients find the API through KUBERNETES_SERVICE_HOST.
    kubernetes = await objects.get("services", "default", "kubernetes")
    if kubernetes is not None:
        env.update(service_variables([kubernetes]))
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for field, resource in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            ref = source.get(field)
            if ref is None:
                continue
            data = await _source_data(
                objects, resource, namespace, ref.get("name", ""), bool(ref.get("optional"))
            )
            for key, value in (data or {}).items():
                if _VALID_NAME.match(prefix + key):
                    env[prefix + key] = value
    for entry in container.get("env") or []:
        name = entry.get("name", "")
        if "value" in entry or "valueFrom" not in entry:
            env[name] = expand(str(entry.get("value", "")), env)
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            env[name] = field_value(pod, source["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            env[name] = resource_value(
                pod,
                ref.get("containerName") or container.get("name", ""),
                ref.get("resource", ""),
                ref.get("divisor"),
                node_allocatable,
            )
        else:
            for field, resource, what in (
                ("configMapKeyRef", "configmaps", "ConfigMap"),
                ("secretKeyRef", "secrets", "Secret"),
            ):
                ref = source.get(field)
                if ref is None:
                    continue
                optional = bool(ref.get("optional"))
                data = await _source_data(
                    objects, resource, namespace, ref.get("name", ""), optional
                )
                key = ref.get("key", "")
                if data is not None and key in data:
                    env[name] = data[key]
                elif not optional:
                    raise ConfigError(
                        f"couldn't find key {key} in {what} {namespace}/{ref.get('name', '')}"
                    )
    return env


def expand_all(values: list[str], env: dict[str, str]) -> list[str]:
    return [expand(str(v), env) for v in values]
