"""The kubelet's own HTTPS API, which the API server calls for `kubectl logs` and `exec`.

Port 10250, as upstream. Its certificate is the node's, signed by the cluster CA at join
with the node's name as a serving name; only the API server's kubelet client certificate
gets in.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from ku7s.api import meta
from ku7s.metrics.endpoint import add_metrics_routes
from ku7s.rpc.cri_pb2 import CONTAINER_RUNNING
from node_image.kubelet.attach import AttachSession, stdin_fifo
from node_image.kubelet.container_logs import LogOptions, read_log
from node_image.kubelet.cri import PodRuntime
from node_image.kubelet.pod_manager import PodManager
from node_image.kubelet.pod_status import RUNNING
from node_image.kubelet.port_forward import PortForwardSession, opener_for
from node_image.kubelet.remote_command import (
    PROTOCOLS,
    ExecRequest,
    ExecSession,
    runc_exec_argv,
)
from node_image.kubelet.runtime_view import RuntimeView
from node_image.kubelet.sandbox_config import log_directory

log = logging.getLogger("kubelet")

KUBELET_PORT = 10250
API_SERVER_CLIENT = "kube-apiserver-kubelet-client"


def _peer_name(request: web.Request) -> str:
    transport = request.transport
    peer = transport.get_extra_info("peercert") if transport is not None else None
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


@web.middleware
async def only_the_api_server(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path != "/healthz" and _peer_name(request) != API_SERVER_CLIENT:
        raise web.HTTPForbidden(text="only the API server may use the kubelet API\n")
    return await handler(request)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


class KubeletServer:
    def __init__(
        self,
        pods: PodManager,
        view: RuntimeView,
        runtime: PodRuntime,
        metrics: dict[str, CollectorRegistry] | None = None,
    ) -> None:
        self._pods = pods
        self._view = view
        self._runtime = runtime
        self._metrics = metrics or {}
        #: Containers that have had their first attach (see _attach).
        self._attached: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[only_the_api_server])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        app.router.add_route("*", "/exec/{namespace}/{pod}/{container}", self._exec)
        app.router.add_route("*", "/portForward/{namespace}/{pod}", self._port_forward)
        app.router.add_route("*", "/attach/{namespace}/{pod}/{container}", self._attach)
        add_metrics_routes(app, self._metrics)
        return app

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _worker(self, request: web.Request) -> Any:
        info = request.match_info
        for worker in self._pods.workers().values():
            pod = worker.pod
            if meta.namespace_of(pod) == info["namespace"] and meta.name_of(pod) == info["pod"]:
                return worker
        raise web.HTTPNotFound(text=f"pod {info['namespace']}/{info['pod']} is not on this node\n")

    def _container(self, request: web.Request) -> tuple[Any, Any]:
        """The pod's worker and the newest instance of the named container."""
        worker = self._worker(request)
        return worker, worker.observed.latest.get(request.match_info["container"])

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        worker, latest = self._container(request)
        container = request.match_info["container"]
        if latest is None:
            raise web.HTTPBadRequest(
                text=f'container "{container}" in pod "{meta.name_of(worker.pod)}" is waiting '
                "to start: ContainerCreating\n"
            )
        restart = latest.restart_count
        if _flag(request, "previous"):
            previous = worker.observed.previous.get(container)
            if previous is None:
                raise web.HTTPBadRequest(
                    text=f'previous terminated container "{container}" in pod '
                    f'"{meta.name_of(worker.pod)}" not found\n'
                )
            restart = previous.restart_count
        path = Path(log_directory(worker.pod)) / container / f"{restart}.log"
        if not path.exists():
            raise web.HTTPNotFound(text=f"log of container {container} not found\n")
        options = LogOptions(
            follow=_flag(request, "follow"),
            tail_lines=int(request.query["tailLines"]) if "tailLines" in request.query else None,
            timestamps=_flag(request, "timestamps"),
            since=_since(request),
            limit_bytes=int(request.query["limitBytes"]) if "limitBytes" in request.query else None,
        )
        instance = latest.id

        def still_running() -> bool:
            now = worker.observed.latest.get(container)
            return now is not None and now.id == instance and now.state == RUNNING

        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        async for chunk in read_log(path, options, still_running):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        worker, latest = self._container(request)
        container = request.match_info["container"]
        containers: list[dict[str, Any]] = (worker.pod.get("spec") or {}).get("containers") or []
        spec = next((c for c in containers if c.get("name") == container), {})
        # The first attach to a container made for one client gets all of its output (see
        # attach.py), also when it already finished; any other needs it running, as
        # upstream. The runtime is asked, not this kubelet's last look at it.
        made_for_one = bool(spec.get("stdin") and spec.get("stdinOnce"))
        first = latest is not None and made_for_one and latest.id not in self._attached
        if latest is None or not (first or await self._is_running(latest.id)):
            raise web.HTTPBadRequest(
                text=f"unable to upgrade connection: container {container} is not running\n"
            )
        if made_for_one:
            self._attached.add(latest.id)
        path = Path(log_directory(worker.pod)) / container / f"{latest.restart_count}.log"
        instance = latest.id

        def still_running() -> bool:
            now = worker.observed.latest.get(container)
            return now is not None and now.id == instance and now.state == RUNNING

        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="Upgrade request required\n")
        await ws.prepare(request)
        stdin = stdin_fifo(instance) if _flag(request, "stdin") else None
        tty = bool(spec.get("tty"))
        await AttachSession(ws, path, stdin, tty, still_running, from_start=first).run()
        return ws

    async def _is_running(self, container_id: str) -> bool:
        try:
            status = await self._runtime.container_status(container_id)
        except Exception:  # gone from the runtime
            return False
        return bool(status.state == CONTAINER_RUNNING)

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        worker = self._worker(request)
        ports: list[int] = []
        for value in request.query.getall("ports", []) + request.query.getall("port", []):
            ports += [int(p) for p in value.split(",") if p.strip().isdigit()]
        if not ports:
            raise web.HTTPBadRequest(text="at least one port is needed (ports=80)\n")
        sandbox = self._view.pod(worker.uid).newest_sandbox()
        pid = await self._runtime.sandbox_pid(sandbox.id) if sandbox and sandbox.ready else 0
        if not pid:
            raise web.HTTPBadRequest(text="the pod's sandbox is not running\n")
        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="Upgrade request required\n")
        await ws.prepare(request)
        await PortForwardSession(ws, opener_for(pid), ports).run()
        return ws

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        _, latest = self._container(request)
        container = request.match_info["container"]
        if latest is None or latest.state != RUNNING:
            raise web.HTTPBadRequest(
                text=f"unable to upgrade connection: container {container} is not running\n"
            )
        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="Upgrade request required\n")
        await ws.prepare(request)
        exec_request = ExecRequest.from_query(latest.id, request.query)
        argv = runc_exec_argv(latest.id, exec_request.command, exec_request.tty)
        await ExecSession(exec_request, ws, argv).run()
        return ws


def _since(request: web.Request) -> datetime.datetime | None:
    if "sinceSeconds" in request.query:
        seconds = int(request.query["sinceSeconds"])
        return datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    if "sinceTime" in request.query:
        return meta.parse_time(request.query["sinceTime"])
    return None
