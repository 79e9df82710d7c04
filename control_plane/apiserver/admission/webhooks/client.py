"""Calling a webhook: its URL, or its Service reached at a ready endpoint (the control
plane routes to pods), over TLS checked against the configuration's ``caBundle`` for the
name ``<service>.<namespace>.svc``, within its timeout."""

from __future__ import annotations

import base64
import binascii
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from control_plane.apiserver.service_endpoints import (
    ServiceCallError,
    ServiceUnreachable,
    call_json,
    resolve,
)

if TYPE_CHECKING:
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class WebhookCallError(Exception):
    """The webhook could not be asked or did not answer usefully (failurePolicy decides)."""


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    if not ca_bundle:
        return ssl.create_default_context()
    try:
        pem = base64.b64decode(ca_bundle).decode()
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as e:
        raise WebhookCallError(f"invalid caBundle: {e}") from e


def review_response(answer: Object, api_version: str, kind: str, uid: str) -> Object:
    """The response of a review (AdmissionReview, ConversionReview) answered to the request
    with this uid, checked as upstream checks it."""
    if answer.get("apiVersion") != api_version or answer.get("kind") != kind:
        raise WebhookCallError(
            f"expected webhook response of {api_version}, Kind={kind}, got "
            f"{answer.get('apiVersion')}, Kind={answer.get('kind')}"
        )
    response = answer.get("response")
    if not isinstance(response, dict):
        raise WebhookCallError("no response provided")
    if response.get("uid") != uid:
        raise WebhookCallError(f'expected response.uid="{uid}", got "{response.get("uid")}"')
    return response


class WebhookClient:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._session: aiohttp.ClientSession | None = None
        #: caBundle -> its context; one context per bundle lets connections be kept alive.
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, config: Object, body: Object, timeout: int) -> Object:
        """POST an AdmissionReview (or ConversionReview) and return the answer's JSON."""
        url, address, server_name = await self._target(config)
        shown = f'Post "{url}?timeout={timeout}s"'
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            return await call_json(
                self._session, "POST", f"{address}?timeout={timeout}s", shown=shown,
                context=self._context(config.get("caBundle") or ""), server_name=server_name,
                timeout=timeout, body=body,
            )  # fmt: skip
        except ServiceCallError as e:
            raise WebhookCallError(str(e)) from e

    def _context(self, ca_bundle: str) -> ssl.SSLContext:
        context = self._contexts.get(ca_bundle)
        if context is None:
            context = self._contexts[ca_bundle] = _ssl_context(ca_bundle)
        return context

    async def _target(self, config: Object) -> tuple[str, str, str | None]:
        """(the URL as errors show it, the address to connect to, the TLS name)."""
        if config.get("url"):
            url = str(config["url"])
            return url, url, urlsplit(url).hostname
        service = config.get("service") or {}
        namespace, name = service.get("namespace", ""), service.get("name", "")
        port = int(service.get("port", 443))
        path = service.get("path") or "/"
        shown = f"https://{name}.{namespace}.svc:{port}{path}"
        try:
            address = await resolve(self._registry, namespace, name, port)
        except ServiceUnreachable as e:
            raise WebhookCallError(f'Post "{shown}": {e}') from e
        return shown, f"https://{address.ip}:{address.port}{path}", address.server_name
