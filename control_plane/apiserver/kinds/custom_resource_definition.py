"""CustomResourceDefinition (apiextensions.k8s.io/v1): a new kind for the API to serve.

The definition is checked as upstream checks it (names, scope, one storage version, a
structural schema for every version, subresource paths, printer columns); serving it is
the registrar's work (custom_resources/registrar.py), which also fills in its status.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from control_plane.apiserver.custom_resources.schema import structural_errors
from control_plane.apiserver.custom_resources.validation_rules import compile_rules
from control_plane.apiserver.kinds.base import Kind, Object
from control_plane.apiserver.resources import ResourceType
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.validation import dns1123_label_errors, dns1123_subdomain_errors

GROUP = "apiextensions.k8s.io"
#: The finalizer that holds a deleted definition until its objects are gone.
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
SCOPES = ("Cluster", "Namespaced")
COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
#: Upstream's limit on a version's selectableFields.
MAX_SELECTABLE_FIELDS = 8
_KIND_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def is_protected_group(group: str) -> bool:
    """Groups upstream keeps for Kubernetes' own APIs (approval annotation required)."""
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def storage_version(crd: Object) -> str:
    versions = (crd.get("spec") or {}).get("versions") or []
    return next((v["name"] for v in versions if v.get("storage")), "")


class CustomResourceDefinitionKind(Kind):
    resource: ClassVar[ResourceType] = ResourceType(
        GROUP, "v1", "customresourcedefinitions", "customresourcedefinition",
        "CustomResourceDefinition", namespaced=False, short_names=("crd", "crds"),
        categories=("api-extensions",), subresources=("status",),
    )  # fmt: skip
    resets_status_on_create = True
    tracks_generation = True
    delete_finalizers = (CLEANUP_FINALIZER,)

    def initial_status(self, obj: Object) -> Object:
        return {"acceptedNames": {"plural": "", "kind": ""}, "conditions": [], "storedVersions": []}

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict) and isinstance(names.get("kind"), str):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", f"{names['kind']}List")
        conversion = spec.setdefault("conversion", {"strategy": "None"})
        if isinstance(conversion, dict):
            conversion.setdefault("strategy", "None")
            webhook = conversion.get("webhook")
            if isinstance(webhook, dict) and isinstance(webhook.get("clientConfig"), dict):
                service = webhook["clientConfig"].get("service")
                if isinstance(service, dict):
                    service.setdefault("port", 443)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        group = spec.get("group")
        names: Object = spec["names"] if isinstance(spec.get("names"), dict) else {}
        if not isinstance(group, str) or not group:
            errors.required("spec.group")
        elif problems := dns1123_subdomain_errors(group):
            errors.invalid("spec.group", group, problems[0])
        elif "." not in group:
            errors.invalid("spec.group", group, "should be a domain with at least one dot")
        elif is_protected_group(group) and not meta.annotations_of(obj).get(APPROVAL_ANNOTATION):
            errors.required(
                f"metadata.annotations[{APPROVAL_ANNOTATION}]",
                f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", see '
                "https://github.com/kubernetes/enhancements/pull/1111",
            )
        plural = names.get("plural")
        if isinstance(group, str) and isinstance(plural, str):
            wanted = f"{plural}.{group}"
            if meta.name_of(obj) != wanted:
                errors.invalid(
                    "metadata.name", meta.name_of(obj), 'must be spec.names.plural+"."+spec.group'
                )
        _validate_names(names, errors)
        errors.one_of("spec.scope", spec.get("scope"), SCOPES, required=True)
        _validate_versions(spec.get("versions"), errors)
        conversion = spec.get("conversion") or {}
        strategy = conversion.get("strategy") if isinstance(conversion, dict) else None
        errors.one_of("spec.conversion.strategy", strategy, ("None", "Webhook"), required=True)
        if strategy == "Webhook":
            webhook = conversion.get("webhook")
            if not isinstance(webhook, dict) or not isinstance(webhook.get("clientConfig"), dict):
                errors.required("spec.conversion.webhook.clientConfig")
            elif not webhook.get("conversionReviewVersions"):
                errors.required("spec.conversion.webhook.conversionReviewVersions")

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        old_scope = (old.get("spec") or {}).get("scope")
        new_scope = (new.get("spec") or {}).get("scope")
        if old_scope != new_scope:
            errors.immutable("spec.scope", new_scope)

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj["metadata"].get("creationTimestamp", "")]


def _validate_names(names: Object, errors: FieldErrors) -> None:
    for field in ("plural", "singular"):
        value = names.get(field)
        if field == "plural" or value:
            errors.dns_label(f"spec.names.{field}", value)
    kind = names.get("kind")
    if not isinstance(kind, str) or not kind:
        errors.required("spec.names.kind")
    elif not _KIND_NAME.match(kind):
        errors.invalid("spec.names.kind", kind, "may have mixed case, but should otherwise "
                       "match: ^[a-z]([-a-z0-9]*[a-z0-9])?$")  # fmt: skip
    if kind and names.get("listKind") == kind:
        errors.invalid("spec.names.listKind", names["listKind"], "kind and listKind may not be "
                       "the same")  # fmt: skip
    for i, short in enumerate(names.get("shortNames") or []):
        if not isinstance(short, str) or dns1123_label_errors(short):
            errors.invalid(f"spec.names.shortNames[{i}]", short,
                           "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                           "characters or '-', and must start and end with an alphanumeric "
                           "character")  # fmt: skip


def _validate_versions(versions: Any, errors: FieldErrors) -> None:
    if not isinstance(versions, list) or not versions:
        errors.required("spec.versions", "must have exactly one version marked as storage version")
        return
    seen: set[str] = set()
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            errors.required(path)
            continue
        name = version.get("name")
        errors.dns_label(f"{path}.name", name)
        if name in seen:
            errors.duplicate(f"{path}.name", name)
        seen.add(str(name))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errors.required(f"{path}.schema.openAPIV3Schema", "schemas are required")
        else:
            structural_errors(schema, f"{path}.schema.openAPIV3Schema", errors)
            compile_rules(schema, f"{path}.schema.openAPIV3Schema", errors)
        _validate_subresources(version.get("subresources") or {}, f"{path}.subresources", errors)
        selectable = version.get("selectableFields") or []
        if len(selectable) > MAX_SELECTABLE_FIELDS:
            errors.add(f"{path}.selectableFields", "FieldValueTooMany",
                       f"Too many: {len(selectable)}: must have at most "
                       f"{MAX_SELECTABLE_FIELDS} items")  # fmt: skip
        for j, field in enumerate(selectable):
            json_path = field.get("jsonPath") if isinstance(field, dict) else None
            if not json_path:
                errors.required(f"{path}.selectableFields[{j}].jsonPath")
            elif not str(json_path).startswith("."):
                errors.invalid(f"{path}.selectableFields[{j}].jsonPath", json_path,
                               "must be a simple JSON path, starting with .")  # fmt: skip
        for j, column in enumerate(version.get("additionalPrinterColumns") or []):
            cpath = f"{path}.additionalPrinterColumns[{j}]"
            if not isinstance(column, dict):
                errors.required(cpath)
                continue
            if not column.get("name"):
                errors.required(f"{cpath}.name")
            errors.one_of(f"{cpath}.type", column.get("type"), COLUMN_TYPES, required=True)
            if not column.get("jsonPath"):
                errors.required(f"{cpath}.jsonPath")
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage") is True]
    if len(storage) != 1:
        errors.invalid(
            "spec.versions",
            [v.get("name") for v in versions if isinstance(v, dict)],
            "must have exactly one version marked as storage version",
        )
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        errors.invalid(
            "spec.versions",
            [v.get("name") for v in versions if isinstance(v, dict)],
            "must have at least one served version",
        )


def _validate_subresources(subresources: Any, path: str, errors: FieldErrors) -> None:
    scale = subresources.get("scale") if isinstance(subresources, dict) else None
    if not isinstance(scale, dict):
        return
    for field, prefix, required in (
        ("specReplicasPath", ".spec.", True),
        ("statusReplicasPath", ".status.", True),
        ("labelSelectorPath", "", False),
    ):
        value = scale.get(field)
        if not value:
            if required:
                errors.required(f"{path}.scale.{field}")
            continue
        if prefix and not str(value).startswith(prefix):
            where = prefix.rstrip(".")
            errors.invalid(f"{path}.scale.{field}", value, f"should be a json path under {where}")
