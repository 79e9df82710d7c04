"""ValidatingWebhookConfiguration and MutatingWebhookConfiguration
(admissionregistration.k8s.io/v1): which writes are sent to which webhooks, defaulted and
checked as upstream does (the webhooks themselves are called by admission/webhooks/)."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import NAME, Kind, Object
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, age
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

GROUP = "admissionregistration.k8s.io"
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REVIEW_VERSIONS = ("v1", "v1beta1")
_COLUMNS: list[Column] = [NAME, ("Webhooks", "integer", "", 0), ("Age", "string", "", 0)]


def _default_webhook(webhook: Object, mutating: bool) -> None:
    webhook.setdefault("failurePolicy", "Fail")
    webhook.setdefault("matchPolicy", "Equivalent")
    webhook.setdefault("namespaceSelector", {})
    webhook.setdefault("objectSelector", {})
    webhook.setdefault("timeoutSeconds", 10)
    if mutating:
        webhook.setdefault("reinvocationPolicy", "Never")
    for rule in webhook.get("rules") or []:
        if isinstance(rule, dict):
            rule.setdefault("scope", "*")
    service = (webhook.get("clientConfig") or {}).get("service")
    if isinstance(service, dict):
        service.setdefault("port", 443)


def _validate_webhook(webhook: Any, path: str, errors: FieldErrors) -> None:
    if not isinstance(webhook, dict):
        errors.required(path)
        return
    name = webhook.get("name")
    if not isinstance(name, str) or not name:
        errors.required(f"{path}.name")
    else:
        errors.dns_subdomain(f"{path}.name", name)
        if name.count(".") < 2:
            errors.invalid(
                f"{path}.name",
                name,
                "should be a domain with at least three segments separated by dots",
            )
    versions = webhook.get("admissionReviewVersions")
    if not versions:
        errors.required(f"{path}.admissionReviewVersions",
                        'must specify one of "v1", "v1beta1"')  # fmt: skip
    elif not set(versions) & set(REVIEW_VERSIONS):
        errors.invalid(f"{path}.admissionReviewVersions", versions,
                       'must include at least one of "v1", "v1beta1"')  # fmt: skip
    errors.one_of(f"{path}.sideEffects", webhook.get("sideEffects"), SIDE_EFFECTS, required=True)
    errors.one_of(f"{path}.failurePolicy", webhook.get("failurePolicy"), ("Fail", "Ignore"))
    errors.one_of(f"{path}.matchPolicy", webhook.get("matchPolicy"), ("Equivalent", "Exact"))
    errors.one_of(
        f"{path}.reinvocationPolicy", webhook.get("reinvocationPolicy"), ("Never", "IfNeeded")
    )
    timeout = webhook.get("timeoutSeconds")
    if timeout is not None and (not isinstance(timeout, int) or not 1 <= timeout <= 30):
        errors.invalid(f"{path}.timeoutSeconds", timeout,
                       "the timeout value must be between 1 and 30 seconds")  # fmt: skip
    config = webhook.get("clientConfig")
    url = (config or {}).get("url") if isinstance(config, dict) else None
    service = (config or {}).get("service") if isinstance(config, dict) else None
    if bool(url) == bool(service):
        errors.required(f"{path}.clientConfig", "exactly one of url or service is required")
    elif url and not str(url).startswith("https://"):
        errors.invalid(f"{path}.clientConfig.url", url, "'https' is the only allowed URL scheme")
    elif isinstance(service, dict):
        if not service.get("name"):
            errors.required(f"{path}.clientConfig.service.name")
        if not service.get("namespace"):
            errors.required(f"{path}.clientConfig.service.namespace")
    for i, rule in enumerate(webhook.get("rules") or []):
        validate_rule(rule, f"{path}.rules[{i}]", errors)


def validate_rule(rule: Any, path: str, errors: FieldErrors) -> None:
    """One rule of operations on resources (webhooks' and policies' alike)."""
    if not isinstance(rule, dict):
        errors.required(path)
        return
    for j, operation in enumerate(rule.get("operations") or []):
        errors.one_of(f"{path}.operations[{j}]", operation, OPERATIONS, required=True)
    for field in ("apiGroups", "apiVersions", "resources"):
        if not rule.get(field):
            errors.required(f"{path}.{field}")
    errors.one_of(f"{path}.scope", rule.get("scope"), SCOPES)


class _WebhookConfigurationKind(Kind):
    mutating: ClassVar[bool] = False
    columns: ClassVar[list[Column]] = _COLUMNS

    def default(self, obj: Object) -> None:
        for webhook in obj.get("webhooks") or []:
            if isinstance(webhook, dict):
                _default_webhook(webhook, self.mutating)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        webhooks = obj.get("webhooks") or []
        seen: set[str] = set()
        for i, webhook in enumerate(webhooks):
            _validate_webhook(webhook, f"webhooks[{i}]", errors)
            name = webhook.get("name") if isinstance(webhook, dict) else None
            if name in seen:
                errors.duplicate(f"webhooks[{i}].name", name)
            seen.add(str(name))

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), len(obj.get("webhooks") or []), age(obj)]


class ValidatingWebhookConfigurationKind(_WebhookConfigurationKind):
    resource = ResourceType(
        GROUP, "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration", namespaced=False, categories=("api-extensions",),
    )  # fmt: skip


class MutatingWebhookConfigurationKind(_WebhookConfigurationKind):
    mutating = True
    resource = ResourceType(
        GROUP, "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration", namespaced=False, categories=("api-extensions",),
    )  # fmt: skip
