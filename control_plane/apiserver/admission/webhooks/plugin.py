"""Admission webhooks: the writes that match a Mutating- or ValidatingWebhookConfiguration
are sent to its webhooks as AdmissionReview v1, in upstream's order (mutating webhooks
before the object is validated, validating webhooks after).

A mutating webhook's JSONPatch is applied to the object; a denial is answered with the
webhook's status (at least 400) and upstream's words (``admission webhook "x" denied the
request: ...``); a webhook that cannot be reached, times out or answers garbage fails the
write (500, naming it) or is skipped, as its ``failurePolicy`` says. Writes the API server
makes itself, and the webhook configurations themselves, are not sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any

import orjson

from control_plane.apiserver import errors
from control_plane.apiserver.admission.matching import (
    Attributes,
    MatchConditionError,
    conditions_match,
    rule_matches,
    selectors_match,
)
from control_plane.apiserver.admission.review_request import review_request
from control_plane.apiserver.admission.webhooks.client import (
    WebhookCallError,
    WebhookClient,
    review_response,
)
from control_plane.apiserver.authentication.request_user import REQUEST_USER
from control_plane.apiserver.following import Mirror
from control_plane.apiserver.kinds.admission_registration import GROUP as REGISTRATION
from control_plane.apiserver.request_warnings import warn
from ku7s.api import meta
from ku7s.api.patch import PatchError, json_patch

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]
_PLURALS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")


class WebhookAdmission:
    def __init__(self, registry: Registry, client: WebhookClient) -> None:
        self._registry = registry
        self._client = client
        self._configurations = Mirror(
            registry,
            [registry.kinds.get(plural, REGISTRATION) for plural in _PLURALS],
            why="admission webhooks",
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._configurations.run(stop)

    async def wait_synced(self) -> None:
        await self._configurations.wait_synced()

    def _webhooks(self, plural: str) -> list[Object]:
        return [w for configuration in self._configurations.sorted(plural)
                for w in configuration.get("webhooks") or []]  # fmt: skip

    # -- the admission chain -------------------------------------------------------------

    async def admit(
        self,
        registry: Registry,
        kind: Kind,
        obj: Object,
        old: Object | None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        """Mutating webhooks, on creates and updates. A webhook whose reinvocationPolicy is
        IfNeeded is asked once more when a later one changed the object after it."""
        operation = "UPDATE" if old is not None else "CREATE"
        #: The object as each webhook left it, for those that may be asked again.
        left: list[tuple[Object, Object]] = []
        for webhook in self._webhooks("mutatingwebhookconfigurations"):
            asked = await self._mutate(webhook, kind, operation, obj, old, subresource, dry_run)
            if asked and webhook.get("reinvocationPolicy") == "IfNeeded":
                left.append((webhook, meta.clone(obj)))
        for webhook, as_left in left:
            if as_left != obj:
                await self._mutate(webhook, kind, operation, obj, old, subresource, dry_run)

    async def _mutate(
        self,
        webhook: Object,
        kind: Kind,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        dry_run: bool,
    ) -> bool:
        """Ask one mutating webhook and apply its patch; whether it was asked."""
        answer = await self._ask(webhook, kind, operation, obj, old, subresource, dry_run)
        if answer is None:
            return False
        patch = answer.get("patch")
        if patch:
            patched = _patched(webhook, obj, patch, answer.get("patchType"))
            obj.clear()
            obj.update(patched)
        return True

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
        """Validating webhooks, on creates, updates and deletes."""
        for webhook in self._webhooks("validatingwebhookconfigurations"):
            await self._ask(webhook, kind, operation, obj, old, subresource, dry_run)

    async def _ask(
        self,
        webhook: Object,
        kind: Kind,
        operation: str,
        obj: Object | None,
        old: Object | None,
        subresource: str,
        dry_run: bool,
    ) -> Object | None:
        """The webhook's allowing answer, or None when it does not apply or is skipped."""
        user = REQUEST_USER.get()
        rt = kind.resource
        if user is None or rt.group == REGISTRATION:
            return None
        attrs = Attributes(operation, rt.group, rt.version, rt.plural, subresource, rt.namespaced)
        if not any(rule_matches(r, attrs) for r in webhook.get("rules") or []):
            return None
        subject = obj if obj is not None else old or {}
        if not await selectors_match(self._registry, webhook, kind, subject, old):
            return None
        name = str(webhook.get("name", ""))
        request = review_request(
            kind, operation, obj, old, user, subresource=subresource, dry_run=dry_run
        )
        fail = webhook.get("failurePolicy", "Fail") == "Fail"
        try:
            if not conditions_match(webhook, {"object": obj, "oldObject": old,
                                              "request": request}):  # fmt: skip
                return None
            answer = await self._client.post(
                webhook.get("clientConfig") or {},
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": request},
                int(webhook.get("timeoutSeconds", 10)),
            )  # fmt: skip
            response = review_response(
                answer, "admission.k8s.io/v1", "AdmissionReview", request["uid"]
            )
        except (WebhookCallError, MatchConditionError) as e:
            if fail:
                raise errors.internal(
                    f'failed calling webhook "{name}": failed to call webhook: {e}'
                ) from e
            log.warning("webhook %s failed (failurePolicy Ignore): %s", name, e)
            return None
        for warning in response.get("warnings") or []:
            warn(str(warning))
        if response.get("allowed") is not True:
            raise _denied(name, response.get("status") or {})
        return response


def _denied(name: str, status: Object) -> errors.APIError:
    denied_by = f'admission webhook "{name}" denied the request'
    raw_code = status.get("code")
    code = raw_code if isinstance(raw_code, int) else 400
    message = status.get("message") or status.get("reason")
    text = f"{denied_by}: {message}" if message else f"{denied_by} without explanation"
    return errors.APIError(max(400, code), str(status.get("reason") or ""), text)


def _patched(webhook: Object, obj: Object, patch: str, patch_type: Any) -> Object:
    name = webhook.get("name", "")
    if patch_type != "JSONPatch":
        raise errors.internal(f'webhook "{name}" answered a patch of type {patch_type!r}, '
                              'not "JSONPatch"')  # fmt: skip
    try:
        operations = orjson.loads(base64.b64decode(patch))
        return json_patch(obj, operations)
    except (binascii.Error, orjson.JSONDecodeError, PatchError) as e:
        raise errors.internal(f'webhook "{name}" answered a patch that does not apply: {e}') from e
