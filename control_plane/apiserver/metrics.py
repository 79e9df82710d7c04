"""kube-apiserver's metrics with upstream's names, labels and buckets: every request counted
and timed by verb, resource and scope; requests in flight; objects stored per resource;
etcd round trips. Served at ``/metrics`` behind the API's TLS and credentials, as upstream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from control_plane.apiserver.kinds import Kinds
from control_plane.apiserver.requests import parse_resource_path

log = logging.getLogger("kube-apiserver")

#: apiserver_request_duration_seconds' and etcd_request_duration_seconds' buckets upstream.
REQUEST_BUCKETS = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5,
    2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
)  # fmt: skip
#: Verbs upstream treats as long-running: out of the in-flight gauge.
LONG_RUNNING = frozenset({"WATCH", "CONNECT"})
STREAMING_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})
READ_ONLY = frozenset({"GET", "LIST", "WATCH"})
APPLY_PATCH = "application/apply-patch+yaml"
#: How often the objects in etcd are counted (upstream: once a minute by default).
COUNT_INTERVAL = 15.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Counting = Callable[[str], Awaitable[int]]


@dataclass(frozen=True)
class RequestInfo:
    """The labels upstream gives a request."""

    verb: str
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    scope: str = ""
    dry_run: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return (
            self.verb,
            self.dry_run,
            self.group,
            self.version,
            self.resource,
            self.subresource,
            self.scope,
            "apiserver",
        )


def request_info(kinds: Kinds, request: web.Request) -> RequestInfo:
    """What the request does, in upstream's words; a path outside the API keeps its method."""
    parts = [p for p in request.path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, tail = "", parts[1], "/".join(parts[2:])
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, tail = parts[1], parts[2], "/".join(parts[3:])
    else:
        return RequestInfo(request.method)
    try:
        path = parse_resource_path(kinds, group, version, tail)
    except Exception:
        return RequestInfo(request.method)
    method, sub = request.method, path.subresource or ""
    if sub in STREAMING_SUBRESOURCES:
        verb = "CONNECT"
    elif method == "GET":
        watching = request.query.get("watch", "").lower() in ("true", "1")
        verb = "WATCH" if watching else ("GET" if path.name else "LIST")
    elif method == "POST":
        verb = "CREATE"
    elif method == "PUT":
        verb = "UPDATE"
    elif method == "PATCH":
        verb = "APPLY" if request.content_type == APPLY_PATCH else "PATCH"
    elif method == "DELETE":
        verb = "DELETE" if path.name else "DELETECOLLECTION"
    else:
        verb = method
    scope = "resource" if path.name else ("namespace" if path.namespace else "cluster")
    dry_run = "All" if "All" in request.query.getall("dryRun", []) else ""
    resource = path.kind.resource
    return RequestInfo(verb, group, version, resource.plural, sub, scope, dry_run)


class APIServerMetrics:
    """The series, on the registry handed in; the middleware and etcd observer feed them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        labels = [
            "verb",
            "dry_run",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
        ]
        self.requests = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            [*labels, "code"],
            registry=registry,
        )
        self.durations = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            labels,
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.",
            ["request_kind"],
            registry=registry,
        )
        for kind in ("readOnly", "mutating"):
            self.inflight.labels(kind)
        self.objects = Gauge(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind. In case of a "
            "fetching error, the value will be -1.",
            ["resource"],
            registry=registry,
        )
        self.etcd = Histogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ["operation", "type"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.etcd_total = Counter(
            "etcd_requests_total",
            "Etcd request counts for each operation and object type.",
            ["operation", "type"],
            registry=registry,
        )

    def middleware(self, kinds: Kinds) -> Middleware:
        """Counts and times every request, including those that end in an error."""

        @web.middleware
        async def instrument(request: web.Request, handler: Handler) -> web.StreamResponse:
            info = request_info(kinds, request)
            kind = "readOnly" if info.verb in READ_ONLY else "mutating"
            counted = info.verb not in LONG_RUNNING
            if counted:
                self.inflight.labels(kind).inc()
            started, code = time.perf_counter(), 500
            try:
                response = await handler(request)
                code = response.status
                return response
            except web.HTTPException as e:
                code = e.status
                raise
            finally:
                if counted:
                    self.inflight.labels(kind).dec()
                self.durations.labels(*info.labels).observe(time.perf_counter() - started)
                self.requests.labels(*info.labels, str(code)).inc()

        return instrument

    def etcd_request(self, operation: str, key: str, seconds: float) -> None:
        """One round trip to etcd, typed by the resource its key belongs to."""
        parts = key.split("/")
        kind = parts[2] if len(parts) > 2 and parts[1] == "registry" else "unknown"
        self.etcd.labels(operation, kind).observe(seconds)
        self.etcd_total.labels(operation, kind).inc()

    async def count_objects(self, kinds: Kinds, count: Counting, stop: asyncio.Event) -> None:
        """Keep apiserver_storage_objects current, one count per resource."""
        while not stop.is_set():
            for kind in kinds.all():
                if not kind.stored:
                    continue
                resource = kind.resource
                name = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
                try:
                    self.objects.labels(name).set(await count(resource.storage_prefix))
                except Exception as e:  # etcd away: say so as upstream does
                    log.info("counting %s failed: %s", name, e)
                    self.objects.labels(name).set(-1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), COUNT_INTERVAL)
