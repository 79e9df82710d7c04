"""Conversion webhooks: a definition whose ``spec.conversion.strategy`` is ``Webhook`` has
its objects converted between versions by its webhook, as ConversionReview v1.

Only objects not already in the wanted version are sent, all of a list in one review. What
comes back is checked as upstream checks it: as many objects as were sent, each of the
wanted apiVersion and the same kind, and no change to metadata beyond labels and
annotations (the rest of each object's metadata is taken from what was sent). Anything
else fails the request with a 500 naming the definition's kind.
"""

from __future__ import annotations

import uuid
from typing import Any

from control_plane.apiserver import errors
from control_plane.apiserver.admission.webhooks.client import (
    WebhookCallError,
    WebhookClient,
    review_response,
)

Object = dict[str, Any]

#: The review version ku7s speaks; a definition must list it.
REVIEW_VERSION = "v1"
#: A conversion webhook has no timeout of its own in the API; upstream's client waits 30 s.
TIMEOUT_SECONDS = 30
#: Metadata a conversion may change.
_MUTABLE_METADATA = ("labels", "annotations")


class WebhookConverter:
    def __init__(self, client: WebhookClient, crd: Object) -> None:
        self._client = client
        spec = crd["spec"]
        webhook = (spec.get("conversion") or {}).get("webhook") or {}
        self._client_config: Object = webhook.get("clientConfig") or {}
        self._review_versions: list[str] = list(webhook.get("conversionReviewVersions") or [])
        self._group, self._kind = spec["group"], spec["names"]["kind"]

    async def convert(self, objects: list[Object], api_version: str) -> list[Object]:
        todo = [i for i, obj in enumerate(objects) if obj.get("apiVersion") != api_version]
        if not todo:
            return objects
        source = objects[todo[0]].get("apiVersion", "")
        shown = f"{source}, Kind={self._kind}"
        try:
            converted = await self._ask([objects[i] for i in todo], api_version)
        except WebhookCallError as e:
            raise errors.internal(f"conversion webhook for {shown} failed: {e}") from e
        if len(converted) != len(todo):
            raise errors.internal(
                f"conversion webhook for {shown} returned {len(converted)} objects, "
                f"expected {len(todo)}"
            )
        result = list(objects)
        for i, out in zip(todo, converted, strict=True):
            problem = _problem(objects[i], out, api_version)
            if problem:
                raise errors.internal(f"conversion webhook for {shown} failed: {problem}")
            result[i] = _with_metadata_of(objects[i], out)
        return result

    async def _ask(self, objects: list[Object], api_version: str) -> list[Any]:
        if REVIEW_VERSION not in self._review_versions:
            raise WebhookCallError("no supported conversion review versions")
        uid = str(uuid.uuid4())
        review = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": objects},
        }
        answer = await self._client.post(self._client_config, review, TIMEOUT_SECONDS)
        response = review_response(answer, "apiextensions.k8s.io/v1", "ConversionReview", uid)
        result = response.get("result") or {}
        if result.get("status") != "Success":
            raise WebhookCallError(
                str(result.get("message") or "")
                or f"response.result.status was '{result.get('status', '')}', not 'Success'"
            )
        converted = response.get("convertedObjects")
        if not isinstance(converted, list):
            raise WebhookCallError("response.convertedObjects is not a list")
        return converted


def _problem(sent: Object, out: Any, api_version: str) -> str | None:
    """What is wrong with one converted object, or None."""
    if not isinstance(out, dict):
        return "a converted object is not a JSON object"
    if out.get("apiVersion") != api_version:
        return f'invalid apiVersion "{out.get("apiVersion", "")}", expected "{api_version}"'
    if out.get("kind") != sent.get("kind"):
        return f'invalid kind "{out.get("kind", "")}", expected "{sent.get("kind")}"'
    metadata = out.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "invalid metadata in a converted object: not an object"
    for part in _MUTABLE_METADATA:
        value = (metadata or {}).get(part)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            return f"invalid metadata.{part} in a converted object: not a map of strings"
    return None


def _with_metadata_of(sent: Object, out: Object) -> Object:
    """out with sent's metadata, apart from the labels and annotations out carries."""
    metadata = dict(sent.get("metadata") or {})
    for part in _MUTABLE_METADATA:
        value = (out.get("metadata") or {}).get(part)
        if value:
            metadata[part] = value
        else:
            metadata.pop(part, None)
    return {**out, "metadata": metadata}
