"""The aiohttp application: routes, authentication and the Status form of every error."""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry

from control_plane.apiserver import discovery, errors
from control_plane.apiserver.access_reviews_api import AccessReviewsAPI
from control_plane.apiserver.aggregation.proxy import AggregationProxy
from control_plane.apiserver.authentication.request_user import REQUEST_USER
from control_plane.apiserver.authentication.user import ANONYMOUS, USER, User
from control_plane.apiserver.authentication.x509 import certificate_user
from control_plane.apiserver.authorization.attributes import forbidden, request_attributes
from control_plane.apiserver.authorization.authorizer import Authorizer
from control_plane.apiserver.authorization.impersonation import impersonated
from control_plane.apiserver.handlers import BOOKMARK_INTERVAL, ResourceHandlers, json_response
from control_plane.apiserver.kubelet_proxy import KubeletProxy
from control_plane.apiserver.metrics import APIServerMetrics
from control_plane.apiserver.metrics_api import MetricsAPI
from control_plane.apiserver.openapi.documents import OpenAPIDocuments
from control_plane.apiserver.openapi.swagger import wants_protobuf
from control_plane.apiserver.registry import Registry
from control_plane.apiserver.request_warnings import WARNINGS
from control_plane.apiserver.tokens_api import TokensAPI
from ku7s import KUBERNETES_VERSION, __version__
from ku7s.metrics.endpoint import metrics_response

log = logging.getLogger("kube-apiserver")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Authenticator = Callable[[web.Request], Awaitable[User]]


def version_info() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.lstrip("v").split(".")
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"{KUBERNETES_VERSION}+ku7s.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-11-28T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "ku7s",
        "platform": f"linux/{machine}",
    }


@web.middleware
async def status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure with a Kubernetes Status, as clients expect; send the warnings
    gathered meanwhile as Warning headers."""
    gathered: list[str] = []
    WARNINGS.set(gathered)
    try:
        response = await handler(request)
        for warning in gathered:
            response.headers.add("Warning", f"299 - {json.dumps(warning)}")
        return response
    except errors.APIError as e:
        return json_response(e.status(), status=e.code)
    except web.HTTPNotFound:
        return json_response(errors.route_not_found().status(), status=404)
    except web.HTTPMethodNotAllowed as e:
        return json_response(errors.APIError(405, "MethodNotAllowed", str(e)).status(), status=405)
    except web.HTTPRequestEntityTooLarge as e:
        return json_response(errors.APIError(413, "RequestEntityTooLarge", str(e)).status(), 413)
    except web.HTTPException:
        raise
    except Exception as e:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return json_response(errors.internal(repr(e)).status(), status=500)


#: Paths anyone may read when no authorizer decides (system:public-info-viewer's).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


async def certificate_or_anonymous(request: web.Request) -> User:
    """Client certificates and nothing else (tests that need no tokens)."""
    return certificate_user(request) or ANONYMOUS


def _public(path: str) -> bool:
    path = path.rstrip("/")
    return path in PUBLIC_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/"))


def access_control(authenticator: Authenticator, authorizer: Authorizer | None) -> Middleware:
    """Who asks (401 if a credential does not check out), as whom (impersonation), and
    whether they may (403 in upstream's words). Without an authorizer everyone
    authenticated may do anything, and anonymous callers only read the health paths."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        user = await authenticator(request)
        if authorizer is not None:
            user = impersonated(user, request.headers, authorizer.authorize)
            attrs = request_attributes(user, request.method, request.path, request.query)
            decision = authorizer.authorize(attrs)
            if not decision.allowed:
                raise forbidden(attrs, decision.reason)
        elif user.is_anonymous and not _public(request.path):
            raise errors.unauthorized()
        request[USER] = user
        REQUEST_USER.set(user)
        return await handler(request)

    return middleware


class HealthChecks:
    """/healthz, /livez and /readyz; readiness includes a round trip to etcd."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def live(self, request: web.Request) -> web.Response:
        return self._answer(request, [("ping", True)])

    async def ready(self, request: web.Request) -> web.Response:
        try:
            await self._registry.current_revision()
            etcd_ok = True
        except Exception:
            etcd_ok = False
        return self._answer(request, [("ping", True), ("etcd", etcd_ok)])

    @staticmethod
    def _answer(request: web.Request, checks: list[tuple[str, bool]]) -> web.Response:
        healthy = all(ok for _, ok in checks)
        if "verbose" in request.query:
            lines = [
                f"[{'+' if ok else '-'}]{name} {'ok' if ok else 'failed'}" for name, ok in checks
            ]
            lines.append(f"{request.path.strip('/')} check {'passed' if healthy else 'failed'}")
            text = "\n".join(lines) + "\n"
        else:
            text = "ok" if healthy else "not ok: " + ",".join(n for n, ok in checks if not ok)
        return web.Response(text=text, status=200 if healthy else 500)


def build_app(
    registry: Registry,
    advertise_address: str,
    authenticator: Authenticator = certificate_or_anonymous,
    authorizer: Authorizer | None = None,
    bookmark_interval: float = BOOKMARK_INTERVAL,
    kubelets: KubeletProxy | None = None,
    metrics: APIServerMetrics | None = None,
    tokens: TokensAPI | None = None,
    aggregation: AggregationProxy | None = None,
) -> web.Application:
    """The API; with an aggregation proxy, group-versions handed to Services go there."""
    metrics = metrics or APIServerMetrics(CollectorRegistry())
    middlewares = [
        metrics.middleware(registry.kinds),
        status_errors,
        access_control(authenticator, authorizer),
    ]
    if aggregation is not None:
        middlewares.append(aggregation.middleware)
    app = web.Application(middlewares=middlewares, client_max_size=3 * 1024 * 1024)
    remote = aggregation.api_services if aggregation is not None else None
    resources = ResourceHandlers(registry, bookmark_interval, kubelets)
    health = HealthChecks(registry)
    kinds = registry.kinds

    def aggregated(request: web.Request, *, core: bool) -> web.Response | None:
        version = discovery.wanted_aggregated_version(request.headers.get("Accept", ""))
        if version is None:
            return None
        body = json.dumps(
            discovery.aggregated(kinds, version, core=core, remote=remote), separators=(",", ":")
        )
        return web.Response(
            body=body.encode(),
            headers={
                "Content-Type": discovery.aggregated_content_type(version),
                "Vary": "Accept",
            },
        )

    async def api(request: web.Request) -> web.Response:
        return aggregated(request, core=True) or json_response(
            discovery.core_versions(advertise_address)
        )

    async def apis(request: web.Request) -> web.Response:
        return aggregated(request, core=False) or json_response(discovery.group_list(kinds, remote))

    async def core_v1(request: web.Request) -> web.Response:
        body = discovery.resource_list(kinds, "", "v1")
        assert body is not None
        return json_response(body)

    async def api_group(request: web.Request) -> web.Response:
        body = discovery.group(kinds, request.match_info["group"], remote)
        if body is None:
            raise errors.route_not_found()
        return json_response(body)

    async def group_version(request: web.Request) -> web.Response:
        info = request.match_info
        body = discovery.resource_list(kinds, info["group"], info["version"])
        if body is None:
            raise errors.route_not_found()
        return json_response(body)

    async def version(request: web.Request) -> web.Response:
        return json_response(version_info())

    async def metrics_text(request: web.Request) -> web.Response:
        return metrics_response(metrics.registry)

    openapi = OpenAPIDocuments(kinds)

    async def openapi_v3_index(request: web.Request) -> web.Response:
        return web.Response(body=openapi.index(), content_type="application/json")

    async def openapi_v3_document(request: web.Request) -> web.Response:
        body = openapi.document(request.match_info["path"])
        if body is None:
            raise errors.route_not_found()
        return web.Response(body=body, content_type="application/json")

    async def openapi_v2(request: web.Request) -> web.Response:
        protobuf = wants_protobuf(request.headers.get("Accept", ""))
        return web.Response(
            body=openapi.v2(protobuf=protobuf),
            content_type="application/octet-stream" if protobuf else "application/json",
        )

    r = app.router
    r.add_get("/api", api)
    r.add_get("/api/", api)
    r.add_get("/apis", apis)
    r.add_get("/apis/", apis)
    r.add_get("/api/v1", core_v1)
    r.add_get("/api/v1/", core_v1)
    r.add_get("/version", version)
    r.add_get("/version/", version)  # the Python client asks with the slash
    r.add_get("/openapi/v2", openapi_v2)
    r.add_get("/openapi/v3", openapi_v3_index)
    r.add_get("/openapi/v3/{path:.+}", openapi_v3_document)
    r.add_get("/metrics", metrics_text)
    for path in ("/healthz", "/livez"):
        r.add_get(path, health.live)
        r.add_get(path + "/{check:.*}", health.live)
    r.add_get("/readyz", health.ready)
    r.add_get("/readyz/{check:.*}", health.ready)
    if kubelets is not None:
        MetricsAPI(registry, kubelets.resource_metrics).routes(app)
    if tokens is not None:
        tokens.routes(app)
    AccessReviewsAPI(authorizer).routes(app)
    r.add_route("*", "/api/v1/{tail:.+}", resources.core)
    r.add_get("/apis/{group}", api_group)
    r.add_get("/apis/{group}/{version}", group_version)
    r.add_route("*", "/apis/{group}/{version}/{tail:.+}", resources.grouped)
    return app
