"""Who am I and what may I do: SelfSubjectReview (``kubectl auth whoami``), the access
reviews (``kubectl auth can-i``, with ``--as`` through impersonation) and
SelfSubjectRulesReview (``kubectl auth can-i --list``). Each answers at once, stores nothing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from control_plane.apiserver import errors
from control_plane.apiserver.authentication.user import USER, User
from control_plane.apiserver.authorization.attributes import RequestAttributes
from control_plane.apiserver.authorization.authorizer import Authorizer
from control_plane.apiserver.handlers import json_response, read_body
from ku7s.api import meta

Object = dict[str, Any]

AUTHENTICATION_V1 = "authentication.k8s.io/v1"
AUTHORIZATION_V1 = "authorization.k8s.io/v1"


def _attributes(user: User, spec: Object, kind: str) -> RequestAttributes:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if isinstance(resource, dict) and not non_resource:
        return RequestAttributes(
            user,
            str(resource.get("verb", "")),
            "",
            True,
            str(resource.get("group", "")),
            str(resource.get("version", "")),
            str(resource.get("namespace", "")),
            str(resource.get("resource", "")),
            str(resource.get("subresource", "")),
            str(resource.get("name", "")),
        )
    if isinstance(non_resource, dict) and not resource:
        return RequestAttributes(
            user, str(non_resource.get("verb", "")), str(non_resource.get("path", ""))
        )
    raise errors.invalid(
        kind,
        "",
        [
            (
                "spec.resourceAttributes",
                "FieldValueRequired",
                "Required value: exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified",
            )
        ],
        "authorization.k8s.io",
    )


class AccessReviewsAPI:
    def __init__(self, authorizer: Authorizer | None) -> None:
        self._authorizer = authorizer

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post(f"/apis/{AUTHENTICATION_V1}/selfsubjectreviews", self.whoami)
        r.add_post(f"/apis/{AUTHORIZATION_V1}/selfsubjectaccessreviews", self.self_access)
        r.add_post(f"/apis/{AUTHORIZATION_V1}/subjectaccessreviews", self.access)
        r.add_post(
            f"/apis/{AUTHORIZATION_V1}/namespaces/{{namespace}}/localsubjectaccessreviews",
            self.local_access,
        )
        r.add_post(f"/apis/{AUTHORIZATION_V1}/selfsubjectrulesreviews", self.rules)

    async def whoami(self, request: web.Request) -> web.Response:
        user: User = request[USER]
        return self._answer(
            AUTHENTICATION_V1, "SelfSubjectReview", {}, {"userInfo": user.to_user_info()}
        )

    async def self_access(self, request: web.Request) -> web.Response:
        spec = await self._spec(request)
        attrs = _attributes(request[USER], spec, "SelfSubjectAccessReview")
        return self._decided(spec, "SelfSubjectAccessReview", attrs)

    async def access(self, request: web.Request) -> web.Response:
        spec = await self._spec(request)
        attrs = _attributes(self._subject(spec, "SubjectAccessReview"), spec, "SubjectAccessReview")
        return self._decided(spec, "SubjectAccessReview", attrs)

    async def local_access(self, request: web.Request) -> web.Response:
        kind = "LocalSubjectAccessReview"
        spec = await self._spec(request)
        namespace = request.match_info["namespace"]
        resource = spec.get("resourceAttributes")
        if not isinstance(resource, dict) or resource.get("namespace", "") != namespace:
            raise errors.bad_request(
                f"spec.resourceAttributes.namespace must match namespace: {namespace}"
            )
        attrs = _attributes(self._subject(spec, kind), spec, kind)
        return self._decided(spec, kind, attrs, namespace)

    async def rules(self, request: web.Request) -> web.Response:
        spec = await self._spec(request)
        namespace = str(spec.get("namespace", ""))
        resource_rules: list[Object] = []
        non_resource_rules: list[Object] = []
        if self._authorizer is not None:
            for rule in self._authorizer.rbac.rules_for(request[USER], namespace):
                if rule.get("nonResourceURLs"):
                    non_resource_rules.append(
                        {
                            "verbs": rule.get("verbs") or [],
                            "nonResourceURLs": rule["nonResourceURLs"],
                        }
                    )
                else:
                    resource_rules.append(
                        {k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames")
                         if rule.get(k)}
                    )  # fmt: skip
        else:
            resource_rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            non_resource_rules = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        status = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": False,
        }
        return self._answer(AUTHORIZATION_V1, "SelfSubjectRulesReview", spec, status)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    async def _spec(request: web.Request) -> Object:
        body = await read_body(request)
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise errors.bad_request("the request body must be an object with a spec")
        return spec

    @staticmethod
    def _subject(spec: Object, kind: str) -> User:
        name, groups = spec.get("user") or "", list(spec.get("groups") or [])
        if not name and not groups:
            raise errors.invalid(
                kind,
                "",
                [("spec.user", "FieldValueInvalid", "Invalid value: \"\": at least one of user "
                  "or group must be specified")],
                "authorization.k8s.io",
            )  # fmt: skip
        extra = {k: tuple(v) for k, v in (spec.get("extra") or {}).items()}
        return User(str(name), tuple(groups), str(spec.get("uid", "")), extra)

    def _decided(
        self, spec: Object, kind: str, attrs: RequestAttributes, namespace: str = ""
    ) -> web.Response:
        if self._authorizer is None:
            status: Object = {"allowed": True}
        else:
            decision = self._authorizer.authorize(attrs)
            status = {"allowed": decision.allowed}
            if decision.reason:
                status["reason"] = decision.reason
        return self._answer(AUTHORIZATION_V1, kind, spec, status, namespace)

    @staticmethod
    def _answer(
        api_version: str, kind: str, spec: Object, status: Object, namespace: str = ""
    ) -> web.Response:
        metadata: Object = {"creationTimestamp": meta.now_rfc3339()}
        if namespace:
            metadata["namespace"] = namespace
        body = {"kind": kind, "apiVersion": api_version, "metadata": metadata, "spec": spec}
        body["status"] = status
        return json_response(body, status=201)
