"""What Deployments, ReplicaSets, DaemonSets and StatefulSets share: a selector that must
match the pod template's labels and never changes, and the Scale subresource."""

from __future__ import annotations

from typing import Any

from control_plane.apiserver.kinds.base import Object, ScalableKind
from control_plane.apiserver.kinds.pod_spec import default_pod_template, validate_pod_template
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import SelectorError, from_label_selector, label_selector_string

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_selector(
    path: str, selector: Any, errors: FieldErrors, kind: str, *, allow_empty: bool = False
) -> None:
    """A label selector's syntax; an empty one (everything) only where allowed."""
    if not isinstance(selector, dict):
        errors.required(path)
        return
    if not allow_empty and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errors.invalid(path, selector, f"empty selector is invalid for {kind}")
    errors.labels(f"{path}.matchLabels", selector.get("matchLabels"))
    for i, expression in enumerate(selector.get("matchExpressions") or []):
        epath = f"{path}.matchExpressions[{i}]"
        operator = (expression or {}).get("operator")
        errors.one_of(f"{epath}.operator", operator, _OPERATORS, required=True)
        values = (expression or {}).get("values") or []
        if operator in ("In", "NotIn") and not values:
            errors.required(
                f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
            )
        if operator in ("Exists", "DoesNotExist") and values:
            errors.forbidden(
                f"{epath}.values",
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )


def validate_template_matches(spec: Object, errors: FieldErrors) -> None:
    selector, template = spec.get("selector"), spec.get("template")
    if not isinstance(selector, dict) or not isinstance(template, dict):
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    try:
        matches = from_label_selector(selector).matches(labels)
    except SelectorError:
        return
    if not matches:
        errors.invalid(
            "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
        )


class WorkloadKind(ScalableKind):
    tracks_generation = True
    resets_status_on_create = True
    #: Restart policies the pod template may use.
    restart_policies: tuple[str, ...] = ("Always",)
    selector_required = True

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if isinstance(spec.get("template"), dict):
            default_pod_template(spec["template"])
        self.default_spec(spec)

    def default_spec(self, spec: Object) -> None:
        """The kind's own spec defaults (the pod template's are done already)."""

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        if self.selector_required or spec.get("selector") is not None:
            validate_selector("spec.selector", spec.get("selector"), errors, self.resource.singular)
        errors.non_negative("spec.replicas", spec.get("replicas"))
        errors.non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
        errors.non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
        validate_pod_template(
            "spec.template", spec.get("template"), errors, restart_policies=self.restart_policies
        )
        validate_template_matches(spec, errors)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        old_selector = (old.get("spec") or {}).get("selector")
        new_selector = (new.get("spec") or {}).get("selector")
        if old_selector != new_selector:
            errors.immutable("spec.selector", new_selector)

    # -- scale ---------------------------------------------------------------------------

    def replicas(self, obj: Object) -> tuple[int, int, str]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        selector = label_selector_string(spec.get("selector"))
        return spec.get("replicas", 0), status.get("replicas", 0), selector

    def set_replicas(self, obj: Object, replicas: int) -> None:
        obj.setdefault("spec", {})["replicas"] = replicas


def replicas_cells(obj: Object) -> tuple[int, int, int, int, int]:
    """desired, current, ready, updated, available."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return (
        int(spec.get("replicas", 0)),
        int(status.get("replicas", 0)),
        int(status.get("readyReplicas", 0)),
        int(status.get("updatedReplicas", 0)),
        int(status.get("availableReplicas", 0)),
    )
