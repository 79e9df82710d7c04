"""ValidatingAdmissionPolicy admission: each write that a binding's policy matches is
checked by the policy's CEL validations (with the binding's params), after the object is
validated and after validating webhooks' turn in upstream's chain.

A failed validation does what the binding's validationActions say: Deny refuses the write
(``ValidatingAdmissionPolicy 'p' with binding 'b' denied request: <message>``, 422 unless
the validation names another reason), Warn adds a Warning header, Audit is logged (ku7s
keeps no audit log). Writes the API server makes itself, and admission configuration
objects, are not checked, as upstream exempts them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.admission.matching import (
    Attributes,
    rule_matches,
    selector_matches,
    selectors_match,
)
from control_plane.apiserver.admission.policies.compiled import (
    CompiledPolicy,
    EvaluationError,
    Failure,
)
from control_plane.apiserver.admission.review_request import review_request
from control_plane.apiserver.authentication.request_user import REQUEST_USER
from control_plane.apiserver.following import Mirror
from control_plane.apiserver.kinds.admission_registration import GROUP as REGISTRATION
from control_plane.apiserver.registry import ListOptions
from control_plane.apiserver.request_warnings import warn
from ku7s.api import meta

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]
POLICIES = "validatingadmissionpolicies"
BINDINGS = "validatingadmissionpolicybindings"
_NO_PARAMS = (
    "failed to configure binding: no params found for policy binding with `Deny` "
    "parameterNotFoundAction"
)
_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}


class ConfigurationError(Exception):
    """The binding cannot be applied as configured (its params kind is not served, ...)."""


class PolicyAdmission:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        #: policy name -> its compiled form (forgotten whenever a policy or binding changes)
        self._compiled: dict[str, CompiledPolicy] = {}
        self._mirror = Mirror(
            registry,
            [registry.kinds.get(plural, REGISTRATION) for plural in (POLICIES, BINDINGS)],
            why="admission policies",
            on_change=self._compiled.clear,
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._mirror.run(stop)

    async def wait_synced(self) -> None:
        await self._mirror.wait_synced()

    async def validate(
        self,
        kind: Kind,
        obj: Object | None,
        old: Object | None,
        *,
        operation: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        user = REQUEST_USER.get()
        rt = kind.resource
        bindings = self._mirror.objects[BINDINGS]
        if user is None or rt.group == REGISTRATION or not bindings:
            return
        subject = obj if obj is not None else old or {}
        attrs = Attributes(operation, rt.group, rt.version, rt.plural, subresource,
                           rt.namespaced, meta.name_of(subject))  # fmt: skip
        context: Object | None = None  # made when a policy first matches
        for binding in self._mirror.sorted(BINDINGS):
            spec = binding.get("spec") or {}
            policy = self._mirror.objects[POLICIES].get(("", spec.get("policyName", "")))
            if policy is None:
                continue
            compiled = self._compile(policy)
            if not await self._matches(compiled.match_constraints, attrs, kind, subject, old):
                continue
            resources = spec.get("matchResources")
            if resources and not await self._matches(resources, attrs, kind, subject, old):
                continue
            if context is None:
                request = review_request(
                    kind, operation, obj, old, user, subresource=subresource, dry_run=dry_run
                )
                context = {"object": obj, "oldObject": old, "request": request}
            failures = await self._check(compiled, spec, kind, subject, context)
            _act(meta.name_of(policy), meta.name_of(binding), spec, failures, kind, subject)

    def _compile(self, policy: Object) -> CompiledPolicy:
        name = meta.name_of(policy)
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = CompiledPolicy(policy)
        return compiled

    async def _matches(
        self, match: Object, attrs: Attributes, kind: Kind, obj: Object, old: Object | None
    ) -> bool:
        rules = match.get("resourceRules")
        if rules is not None and not any(rule_matches(r, attrs) for r in rules):
            return False
        if any(rule_matches(r, attrs) for r in match.get("excludeResourceRules") or []):
            return False
        return await selectors_match(self._registry, match, kind, obj, old)

    async def _check(
        self, compiled: CompiledPolicy, binding: Object, kind: Kind, subject: Object,
        context: Object,
    ) -> list[Failure]:  # fmt: skip
        """The failures of one binding's policy on this write."""
        namespace = meta.namespace_of(subject) if kind.resource.namespaced else ""
        context = dict(context)
        if "namespaceObject" in compiled.uses:
            context["namespaceObject"] = await self._registry.find(
                self._registry.kinds.get("namespaces"), "", namespace
            ) if namespace else None  # fmt: skip
        try:
            every_params = await self._params(compiled, binding, namespace)
            if every_params is None:
                return [Failure(_NO_PARAMS, "Invalid")]
            failures = []
            for params in every_params:
                with_params = compiled.with_variables({**context, "params": params})
                if compiled.conditions_match(with_params):
                    failures += compiled.failures(with_params)
            return failures
        except (ConfigurationError, EvaluationError) as e:
            if not compiled.fails_closed:
                log.warning("admission policy skipped (failurePolicy Ignore): %s", e)
                return []
            prefix = "failed to configure binding: " if isinstance(e, ConfigurationError) else ""
            return [Failure(f"{prefix}{e}", "Invalid")]

    async def _params(
        self, compiled: CompiledPolicy, binding: Object, namespace: str
    ) -> list[Object | None] | None:
        """The params to check with (one None when the policy takes none); None when none
        were found and the binding says Deny."""
        if compiled.param_kind is None:
            return [None]
        ref = binding.get("paramRef")
        if not ref:
            raise ConfigurationError("the policy has a paramKind but the binding no paramRef")
        api_version, kind_name = compiled.param_kind["apiVersion"], compiled.param_kind["kind"]
        param_kind = next((k for k in self._registry.kinds.all()
                           if k.resource.api_version == api_version
                           and k.resource.kind == kind_name), None)  # fmt: skip
        if param_kind is None:
            raise ConfigurationError(f"paramKind {api_version}, Kind={kind_name} is not served")
        where = ""
        if param_kind.resource.namespaced:
            where = ref.get("namespace") or namespace
            if not where:
                raise ConfigurationError(
                    "cannot use a namespaced paramRef in a policy binding that matches "
                    "cluster-scoped resources"
                )
        if ref.get("name"):
            found = await self._registry.find(param_kind, where, ref["name"])
            params: list[Object | None] = [found] if found is not None else []
        else:
            page = await self._registry.list(param_kind, where or None, ListOptions())
            params = [p for p in page.items
                      if selector_matches(ref.get("selector"), meta.labels_of(p))]  # fmt: skip
        if params:
            return params
        return None if ref.get("parameterNotFoundAction") == "Deny" else []


def _act(
    policy: str, binding: str, spec: Object, failures: list[Failure], kind: Kind, subject: Object
) -> None:
    """Do with the failures what the binding's validationActions say."""
    actions = spec.get("validationActions") or []
    for failure in failures:
        if "Warn" in actions:
            warn(f"Validation failed for ValidatingAdmissionPolicy '{policy}' with binding "
                 f"'{binding}': {failure.message}")  # fmt: skip
        if "Audit" in actions:
            log.info("admission policy %s (binding %s) failed: %s", policy, binding,
                     failure.message)  # fmt: skip
    denied = next((f for f in failures if "Deny" in actions), None)
    if denied is None:
        return
    message = (f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied "
               f"request: {denied.message}")  # fmt: skip
    rt = kind.resource
    refusal = errors.forbidden(rt.plural, meta.name_of(subject), message, rt.group)
    refusal.code, refusal.reason = _CODES.get(denied.reason, 422), denied.reason
    refusal.details = {**(refusal.details or {}), "causes": [{"message": message}]}
    raise refusal
