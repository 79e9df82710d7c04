"""Service account tokens over HTTP: TokenRequest (``kubectl create token``), TokenReview,
and the OIDC discovery documents other systems use to check our tokens."""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from control_plane.apiserver import errors
from control_plane.apiserver.authentication.request_authenticator import RequestAuthenticator
from control_plane.apiserver.handlers import json_response, read_body
from control_plane.apiserver.kinds.pod_spec import validate_token_expiration
from control_plane.apiserver.registry import Registry
from control_plane.service_account_tokens import (
    DEFAULT_EXPIRATION_SECONDS,
    BoundRef,
    ServiceAccountTokens,
)
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

Object = dict[str, Any]

AUTHENTICATION_V1 = "authentication.k8s.io/v1"


def _rfc3339(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class TokensAPI:
    def __init__(
        self,
        registry: Registry,
        tokens: ServiceAccountTokens,
        authenticator: RequestAuthenticator,
        advertise_address: str,
    ) -> None:
        self._registry = registry
        self._tokens = tokens
        self._authenticator = authenticator
        self._advertise_address = advertise_address

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", self.request)
        r.add_post(f"/apis/{AUTHENTICATION_V1}/tokenreviews", self.review)
        r.add_get("/.well-known/openid-configuration", self.openid_configuration)
        r.add_get("/openid/v1/jwks", self.jwks)

    async def openid_configuration(self, request: web.Request) -> web.Response:
        jwks_uri = f"https://{self._advertise_address}/openid/v1/jwks"
        return json_response(self._tokens.openid_configuration(jwks_uri))

    async def jwks(self, request: web.Request) -> web.Response:
        response = json_response(self._tokens.jwks())
        response.content_type = "application/jwk-set+json"
        return response

    async def request(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        body = await read_body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a TokenRequest object")
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise errors.bad_request("spec must be an object")
        problems = FieldErrors()
        seconds = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
        validate_token_expiration("spec.expirationSeconds", seconds, problems)
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            problems.invalid("spec.audiences", audiences, "must be a list of strings")
        if problems:
            raise errors.invalid("TokenRequest", name, problems.causes(), "authentication.k8s.io")
        account = await self._registry.get(
            self._registry.kinds.get("serviceaccounts"), namespace, name
        )
        pod, secret, node = await self._bound_objects(namespace, name, spec.get("boundObjectRef"))
        token, expires = self._tokens.issue(
            namespace,
            BoundRef(name, account["metadata"]["uid"]),
            list(audiences),
            int(seconds),
            pod=pod,
            secret=secret,
            node=node,
        )
        answer = {
            "kind": "TokenRequest",
            "apiVersion": AUTHENTICATION_V1,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": meta.now_rfc3339(),
            },
            "spec": {
                "audiences": list(audiences) or list(self._tokens.api_audiences),
                "expirationSeconds": self._tokens.expiration_for(int(seconds)),
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": _rfc3339(expires)},
        }
        return json_response(answer, status=201)

    async def _bound_objects(
        self, namespace: str, account: str, ref: Any
    ) -> tuple[BoundRef | None, BoundRef | None, BoundRef | None]:
        """(pod, secret, node) a token is bound to, checked as upstream checks them."""
        if not ref:
            return None, None, None
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        kind, name, uid = ref.get("kind"), ref.get("name", ""), ref.get("uid", "")
        plural = {"Pod": "pods", "Secret": "secrets"}.get(str(kind))
        if plural is None:
            raise errors.bad_request(
                f'cannot bind token to object of type {kind}: only "Pod" and "Secret" are supported'
            )
        found = await self._registry.get(self._registry.kinds.get(plural), namespace, name)
        if uid and found["metadata"].get("uid") != uid:
            raise errors.conflict(plural, name)
        bound = BoundRef(name, found["metadata"]["uid"])
        if plural == "secrets":
            return None, bound, None
        spec = found.get("spec") or {}
        if spec.get("serviceAccountName", "default") != account:
            raise errors.bad_request(
                f'cannot bind token for serviceaccount "{account}" to pod running with '
                f"different serviceaccount name."
            )
        node = None
        if spec.get("nodeName"):
            node_object = await self._registry.find(
                self._registry.kinds.get("nodes"), "", spec["nodeName"]
            )
            node = BoundRef(
                spec["nodeName"], (node_object or {}).get("metadata", {}).get("uid", "")
            )
        return bound, None, node

    async def review(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        spec = body.get("spec") if isinstance(body, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise errors.invalid(
                "TokenReview", "", [("spec.token", "FieldValueRequired", "Required value")],
                "authentication.k8s.io",
            )  # fmt: skip
        audiences = tuple(spec.get("audiences") or ()) or None
        user = await self._authenticator.authenticate_token(token, audiences)
        status: Object = {"authenticated": user is not None}
        if user is not None:
            status["user"] = user.to_user_info()
            status["audiences"] = list(audiences or self._tokens.api_audiences)
        else:
            status["error"] = "invalid bearer token"
        answer = {
            "kind": "TokenReview",
            "apiVersion": AUTHENTICATION_V1,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        return json_response(answer, status=201)
