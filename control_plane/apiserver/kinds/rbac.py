"""rbac.authorization.k8s.io/v1: Roles, ClusterRoles and their bindings, validated as upstream.

A binding may name a role that does not exist (it grants nothing until it does); its roleRef
cannot change. Rules must name verbs, and either API groups and resources or (cluster roles
only) non-resource URLs. Verbs are checked against the ones Kubernetes and its common
extensions use, so a typo such as ``Get`` is a 422 instead of a rule that never matches.
"""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

GROUP = "rbac.authorization.k8s.io"
#: The verbs rules may use: the API's own, the RBAC and impersonation ones, and those of
#: well-known extensions (PodSecurityPolicy's use, certificates' approve and sign).
KNOWN_VERBS = frozenset(
    {
        "*",
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "escalate",
        "bind",
        "impersonate",
        "use",
        "approve",
        "sign",
        "attest",
        "proxy",
    }
)
_SUBJECT_GROUPS = {"ServiceAccount": "", "User": GROUP, "Group": GROUP}
_CREATED_AT: Column = ("Created At", "date", "", 0)


def _resource(plural: str, kind: str, namespaced: bool) -> ResourceType:
    return ResourceType(GROUP, "v1", plural, plural[:-1], kind, namespaced)


def validate_rules(rules: Any, errors: FieldErrors, *, namespaced: bool) -> None:
    if rules is None:
        return
    if not isinstance(rules, list):
        errors.invalid("rules", rules, "must be a list of rules")
        return
    for i, rule in enumerate(rules):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            errors.invalid(path, rule, "must be an object")
            continue
        verbs = rule.get("verbs") or []
        if not verbs:
            errors.required(f"{path}.verbs", "verbs must contain at least one value")
        for j, verb in enumerate(verbs if isinstance(verbs, list) else [verbs]):
            if verb not in KNOWN_VERBS:
                errors.not_supported(f"{path}.verbs[{j}]", verb, KNOWN_VERBS)
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errors.invalid(
                    f"{path}.nonResourceURLs",
                    urls,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            if rule.get("apiGroups") or rule.get("resources"):
                errors.invalid(
                    f"{path}.nonResourceURLs",
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            continue
        if not rule.get("apiGroups"):
            errors.required(
                f"{path}.apiGroups", "resource rules must supply at least one api group"
            )
        if not rule.get("resources"):
            errors.required(f"{path}.resources", "resource rules must supply at least one resource")


class RoleKind(Kind):
    resource = _resource("roles", "Role", True)
    path_segment_names = True
    columns: ClassVar[list[Column]] = [NAME, _CREATED_AT]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        validate_rules(obj.get("rules"), errors, namespaced=self.resource.namespaced)


class ClusterRoleKind(RoleKind):
    resource = _resource("clusterroles", "ClusterRole", False)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        super().validate(obj, errors)
        aggregation = obj.get("aggregationRule")
        if aggregation is not None:
            selectors = (aggregation or {}).get("clusterRoleSelectors")
            if not isinstance(selectors, list) or not selectors:
                errors.required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                )


class RoleBindingKind(Kind):
    resource = _resource("rolebindings", "RoleBinding", True)
    path_segment_names = True
    role_kinds: ClassVar[tuple[str, ...]] = ("Role", "ClusterRole")
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Role", "string", "", 0),
        AGE,
        ("Users", "string", "", 1),
        ("Groups", "string", "", 1),
        ("ServiceAccounts", "string", "", 1),
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        ref = obj.get("roleRef")
        if not isinstance(ref, dict):
            errors.required("roleRef")
        else:
            if ref.get("apiGroup") != GROUP:
                errors.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP])
            if ref.get("kind") not in self.role_kinds:
                errors.not_supported("roleRef.kind", ref.get("kind", ""), self.role_kinds)
            if not ref.get("name"):
                errors.required("roleRef.name")
            else:
                errors.path_segment("roleRef.name", ref["name"])
        subjects = obj.get("subjects") or []
        if not isinstance(subjects, list):
            errors.invalid("subjects", subjects, "must be a list of subjects")
            return
        for i, subject in enumerate(subjects):
            self._validate_subject(f"subjects[{i}]", subject, errors)

    def _validate_subject(self, path: str, subject: Any, errors: FieldErrors) -> None:
        if not isinstance(subject, dict):
            errors.invalid(path, subject, "must be an object")
            return
        kind = subject.get("kind")
        if kind not in _SUBJECT_GROUPS:
            errors.not_supported(f"{path}.kind", kind, _SUBJECT_GROUPS)
            return
        if not subject.get("name"):
            errors.required(f"{path}.name")
        group = subject.get("apiGroup", "")
        if kind == "ServiceAccount":
            if group:
                errors.not_supported(f"{path}.apiGroup", group, [""])
            if not self.resource.namespaced and not subject.get("namespace"):
                errors.required(f"{path}.namespace")
        elif group != GROUP:
            errors.not_supported(f"{path}.apiGroup", group, [GROUP])

    def default(self, obj: Object) -> None:
        for subject in obj.get("subjects") or []:
            kind = subject.get("kind") if isinstance(subject, dict) else None
            if kind in ("User", "Group") and "apiGroup" not in subject:
                subject["apiGroup"] = GROUP

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if old.get("roleRef") != new.get("roleRef"):
            errors.invalid("roleRef", new.get("roleRef"), "cannot change roleRef")

    def row(self, obj: Object) -> list[Any]:
        ref = obj.get("roleRef") or {}
        subjects = obj.get("subjects") or []

        def names(kind: str) -> str:
            found = [
                (f"{s.get('namespace', '')}/{s.get('name', '')}" if kind == "ServiceAccount"
                 else s.get("name", ""))
                for s in subjects if s.get("kind") == kind
            ]  # fmt: skip
            return ", ".join(found)

        return [
            meta.name_of(obj),
            f"{ref.get('kind', '')}/{ref.get('name', '')}",
            age(obj),
            names("User"),
            names("Group"),
            names("ServiceAccount"),
        ]


class ClusterRoleBindingKind(RoleBindingKind):
    resource = _resource("clusterrolebindings", "ClusterRoleBinding", False)
    role_kinds = ("ClusterRole",)
