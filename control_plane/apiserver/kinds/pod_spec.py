"""PodSpec defaults and validation, shared by pods and every workload's pod template."""

from __future__ import annotations

from typing import Any

from control_plane.service_account_tokens import MAX_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS
from ku7s.api.field_errors import FieldErrors
from ku7s.api.quantity import QuantityError, parse_quantity

Object = dict[str, Any]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TOLERATION_OPERATORS = ("Exists", "Equal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def image_pull_policy(image: str) -> str:
    """Always for ``:latest`` or an untagged image, IfNotPresent otherwise (upstream's rule)."""
    reference = image.rsplit("/", 1)[-1]
    if "@" in reference:
        return "IfNotPresent"
    tag = reference.rpartition(":")[2] if ":" in reference else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_container(container: Object) -> None:
    if isinstance(container.get("image"), str):
        container.setdefault("imagePullPolicy", image_pull_policy(container["image"]))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    resources = container.setdefault("resources", {})
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        requests = resources.setdefault("requests", {})
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            _default_probe(container[probe])


def _default_probe(probe: Object) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def default_pod_spec(spec: Object) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for kind in _CONTAINER_LISTS:
        for container in spec.get(kind) or []:
            if isinstance(container, dict):
                _default_container(container)
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 0o644)
        if not any(k for k in volume if k != "name"):
            volume["emptyDir"] = {}


def default_pod_template(template: Object) -> None:
    if isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def _validate_resources(path: str, resources: Any, errors: FieldErrors) -> None:
    if not isinstance(resources, dict):
        return
    for part in ("limits", "requests"):
        for name, value in (resources.get(part) or {}).items():
            try:
                amount = parse_quantity(value)
            except QuantityError:
                errors.invalid(
                    f"{path}.{part}[{name}]",
                    value,
                    "quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )
                continue
            if amount < 0:
                errors.invalid(
                    f"{path}.{part}[{name}]", value, "must be greater than or equal to 0"
                )
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for name, value in requests.items():
        if name in limits:
            try:
                if parse_quantity(value) > parse_quantity(limits[name]):
                    errors.invalid(
                        f"{path}.requests",
                        value,
                        f"must be less than or equal to {name} limit of {limits[name]}",
                    )
            except QuantityError:
                pass


def _validate_container(path: str, container: Any, errors: FieldErrors, names: set[str]) -> None:
    if not isinstance(container, dict):
        errors.invalid(path, container, "must be an object")
        return
    name = container.get("name")
    errors.dns_label(f"{path}.name", name)
    if isinstance(name, str) and name:
        if name in names:
            errors.duplicate(f"{path}.name", name)
        names.add(name)
    if not container.get("image") or not isinstance(container.get("image"), str):
        errors.required(f"{path}.image")
    errors.one_of(f"{path}.imagePullPolicy", container.get("imagePullPolicy"), PULL_POLICIES)
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(container.get("ports") or []):
        port_path = f"{path}.ports[{i}]"
        if not isinstance(port, dict):
            errors.invalid(port_path, port, "must be an object")
            continue
        errors.port(f"{port_path}.containerPort", port.get("containerPort"))
        errors.port(f"{port_path}.hostPort", port.get("hostPort"), required=False)
        errors.one_of(f"{port_path}.protocol", port.get("protocol"), PROTOCOLS)
        key = (port.get("containerPort"), port.get("protocol", "TCP"))
        if key in seen_ports:
            errors.duplicate(port_path, f"{key[0]}/{key[1]}")
        seen_ports.add(key)
    for i, env in enumerate(container.get("env") or []):
        if isinstance(env, dict):
            errors.env_var_name(f"{path}.env[{i}].name", env.get("name"))
        else:
            errors.invalid(f"{path}.env[{i}]", env, "must be an object")
    for i, mount in enumerate(container.get("volumeMounts") or []):
        if not isinstance(mount, dict):
            continue
        if not mount.get("name"):
            errors.required(f"{path}.volumeMounts[{i}].name")
        if not mount.get("mountPath"):
            errors.required(f"{path}.volumeMounts[{i}].mountPath")
    _validate_resources(f"{path}.resources", container.get("resources"), errors)


def validate_token_expiration(path: str, seconds: Any, errors: FieldErrors) -> None:
    """A service account token's requested life, bounded as upstream bounds it."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        errors.invalid(path, seconds, "must be an integer")
    elif seconds < MIN_EXPIRATION_SECONDS:
        errors.invalid(path, seconds, "may not specify a duration less than 10 minutes")
    elif seconds > MAX_EXPIRATION_SECONDS:
        errors.invalid(path, seconds, "may not specify a duration larger than 2^32 seconds")


def _validate_token_projections(path: str, volume: dict[str, Any], errors: FieldErrors) -> None:
    sources = (volume.get("projected") or {}).get("sources") or []
    for j, source in enumerate(sources if isinstance(sources, list) else []):
        token = source.get("serviceAccountToken") if isinstance(source, dict) else None
        if token is None:
            continue
        where = f"{path}.projected.sources[{j}].serviceAccountToken"
        if token.get("expirationSeconds") is not None:
            validate_token_expiration(
                f"{where}.expirationSeconds", token["expirationSeconds"], errors
            )
        if not token.get("path"):
            errors.required(f"{where}.path")


def validate_pod_spec(path: str, spec: Any, errors: FieldErrors) -> None:
    if not isinstance(spec, dict):
        errors.required(path)
        return
    containers = spec.get("containers")
    if not containers:
        errors.required(f"{path}.containers")
    names: set[str] = set()
    for kind in _CONTAINER_LISTS:
        for i, container in enumerate(spec.get(kind) or []):
            _validate_container(f"{path}.{kind}[{i}]", container, errors, names)
    errors.one_of(f"{path}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    errors.one_of(f"{path}.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES)
    errors.non_negative(
        f"{path}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds")
    )
    volume_names: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        if not isinstance(volume, dict):
            continue
        name = volume.get("name")
        errors.dns_label(f"{path}.volumes[{i}].name", name)
        if name in volume_names:
            errors.duplicate(f"{path}.volumes[{i}].name", name)
        volume_names.add(str(name))
        _validate_token_projections(f"{path}.volumes[{i}]", volume, errors)
    for i, toleration in enumerate(spec.get("tolerations") or []):
        if not isinstance(toleration, dict):
            continue
        errors.one_of(
            f"{path}.tolerations[{i}].operator", toleration.get("operator"), TOLERATION_OPERATORS
        )
        errors.one_of(f"{path}.tolerations[{i}].effect", toleration.get("effect"), TAINT_EFFECTS)
        if toleration.get("operator") == "Exists" and toleration.get("value"):
            errors.invalid(
                f"{path}.tolerations[{i}].operator",
                "Exists",
                "value must be empty when `operator` is 'Exists'",
            )
    node_selector = spec.get("nodeSelector")
    if node_selector is not None:
        errors.labels(f"{path}.nodeSelector", node_selector)


def validate_pod_template(
    path: str,
    template: Any,
    errors: FieldErrors,
    *,
    restart_policies: tuple[str, ...] = ("Always",),
) -> None:
    if not isinstance(template, dict):
        errors.required(path)
        return
    metadata = template.get("metadata") or {}
    errors.labels(f"{path}.metadata.labels", metadata.get("labels"))
    spec = template.get("spec")
    validate_pod_spec(f"{path}.spec", spec, errors)
    if isinstance(spec, dict) and spec.get("restartPolicy") not in restart_policies:
        errors.not_supported(
            f"{path}.spec.restartPolicy", spec.get("restartPolicy"), restart_policies
        )


def containers_and_images(spec: Object) -> tuple[str, str]:
    """The CONTAINERS and IMAGES cells of a workload's wide table."""
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )
