"""APIService (apiregistration.k8s.io/v1): which Service serves a group-version (an
aggregated API, metrics-server's for instance), or that the API server serves it itself
(``Local``, no service). Checked as upstream; aggregation/ proxies to it and keeps its
``Available`` condition."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import NAME, Kind, Object
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, age
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

GROUP = "apiregistration.k8s.io"


def available(obj: Object) -> Object | None:
    """The Available condition, if there is one."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Available"), None)


class APIServiceKind(Kind):
    resource = ResourceType(
        GROUP, "v1", "apiservices", "apiservice", "APIService", namespaced=False,
        categories=("api-extensions",), subresources=("status",),
    )  # fmt: skip
    path_segment_names = True  # "v1." is the core group's
    columns: ClassVar[list[Column]] = [
        NAME, ("Service", "string", "", 0), ("Available", "string", "", 0),
        ("Age", "string", "", 0),
    ]  # fmt: skip

    def default(self, obj: Object) -> None:
        service = (obj.get("spec") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        group, version = spec.get("group", ""), spec.get("version", "")
        if not version:
            errors.required("spec.version")
        else:
            errors.dns_label("spec.version", str(version))
        if group:
            errors.dns_subdomain("spec.group", str(group))
        if meta.name_of(obj) != f"{version}.{group}":
            errors.invalid("metadata.name", meta.name_of(obj),
                           'must be `spec.version+"."+spec.group`')  # fmt: skip
        for field, top in (("groupPriorityMinimum", 20000), ("versionPriority", 1000)):
            value = spec.get(field)
            if not isinstance(value, int) or not 0 < value <= top:
                errors.invalid(f"spec.{field}", value,
                               f"must be positive and less than {top}")  # fmt: skip
        service = spec.get("service")
        if service is None:
            if spec.get("caBundle"):
                errors.invalid(
                    "spec.caBundle", "<bytes>", "local APIServices may not have a caBundle"
                )
            if spec.get("insecureSkipTLSVerify"):
                errors.invalid("spec.insecureSkipTLSVerify", True,
                               "local APIServices may not have insecureSkipTLSVerify")  # fmt: skip
            return
        if not isinstance(service, dict):
            errors.required("spec.service")
            return
        for field in ("namespace", "name"):
            if not service.get(field):
                errors.required(f"spec.service.{field}")
        port = service.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            errors.invalid("spec.service.port", port, "must be a valid port number")
        if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
            errors.invalid("spec.insecureSkipTLSVerify", True,
                           "may not be true if caBundle is present")  # fmt: skip

    def row(self, obj: Object) -> list[Any]:
        service = (obj.get("spec") or {}).get("service")
        shown = f"{service.get('namespace')}/{service.get('name')}" if service else "Local"
        condition = available(obj)
        state = "Unknown"
        if condition is not None:
            state = str(condition.get("status"))
            if state != "True":
                state += f" ({condition.get('reason', '')})"
        return [meta.name_of(obj), shown, state, age(obj)]
