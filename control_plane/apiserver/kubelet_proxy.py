"""The pod subresources served by the pod's kubelet: `log` (streamed through), `exec` and
`portforward`: a client's WebSocket is relayed frame by frame (its subprotocol chosen by
the kubelet); kubectl's SPDY (upgraded, or tunnelled in a WebSocket) is ended here and
carried on to the kubelet as WebSockets.

The API server reaches kubelets at https://<node name>:10250 with its kubelet client
certificate, and checks their serving certificates against the cluster CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver

from control_plane.apiserver import errors
from control_plane.apiserver.spdy.exec_bridge import PROTOCOL_VERSIONS as EXEC_SPDY_VERSIONS
from control_plane.apiserver.spdy.exec_bridge import ExecBridge
from control_plane.apiserver.spdy.port_forward_bridge import (
    PROTOCOL_VERSION as PORT_FORWARD_VERSION,
)
from control_plane.apiserver.spdy.port_forward_bridge import PortForwardBridge
from control_plane.apiserver.spdy.transport import (
    serve_tunnel,
    serve_upgrade,
    wants_spdy_upgrade,
    wants_tunnel,
)
from ku7s.api import meta
from ku7s.api.meta import runs_on_paper

Object = dict[str, Any]

log = logging.getLogger("kube-apiserver")

KUBELET_PORT = 10250
READ_BUFFER = 4 << 20
_LOG_OPTIONS = (
    "follow",
    "previous",
    "timestamps",
    "tailLines",
    "sinceSeconds",
    "sinceTime",
    "limitBytes",
)
_EXEC_OPTIONS = ("stdin", "stdout", "stderr", "tty")


def kubelet_ssl_context(pki_dir: Path) -> ssl.SSLContext | None:
    cert, key = pki_dir / "apiserver-kubelet-client.crt", pki_dir / "apiserver-kubelet-client.key"
    if not (cert.exists() and key.exists()):
        return None
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
    context.load_cert_chain(cert, key)
    return context


def container_of(pod: Object, requested: str | None) -> str:
    """The container a request means: the one named, or the pod's only (or default) one."""
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in (spec.get("containers") or [])]
    inits = [c.get("name") for c in (spec.get("initContainers") or [])]
    name = meta.name_of(pod)
    if requested:
        if requested not in names + inits:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = (pod["metadata"].get("annotations") or {}).get(
        "kubectl.kubernetes.io/default-container"
    )
    if default in names:
        return str(default)
    if len(names) == 1:
        return str(names[0])
    choices = " ".join(map(str, names))
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{choices}]"
    )


class KubeletProxy:
    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        port: int = KUBELET_PORT,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._ssl = ssl_context
        self._port = port
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=self._resolver),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                # Room for a whole port-forward message (up to 1 MiB) and the next: with
                # aiohttp's 64 KiB the connection paused and resumed within every message.
                read_bufsize=READ_BUFFER,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def resource_metrics(self, node: str) -> str:
        """The node's /metrics/resource, for metrics.k8s.io."""
        if self._ssl is None:
            raise errors.unavailable("the API server has no kubelet client certificate")
        url = f"https://{node}:{self._port}/metrics/resource"
        timeout = aiohttp.ClientTimeout(total=5)
        async with self._client().get(url, ssl=self._ssl, timeout=timeout) as response:
            if response.status != 200:
                raise _kubelet_error(response.status, await response.text())
            return await response.text()

    def _target(self, pod: Object, container: str, what: str) -> tuple[ssl.SSLContext, str]:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise errors.bad_request(
                f'container "{container}" in pod "{meta.name_of(pod)}" is waiting to start: '
                "ContainerCreating"
            )
        if runs_on_paper(pod):
            raise errors.bad_request(
                f'pod "{meta.name_of(pod)}" runs on hollow node "{node}": no container runs '
                "there, so it has no logs, exec, attach or port-forward"
            )
        if self._ssl is None:
            raise errors.APIError(
                503, "ServiceUnavailable", "the API server has no kubelet client certificate"
            )
        url = f"https://{node}:{self._port}/{what}/{meta.namespace_of(pod)}/{meta.name_of(pod)}"
        return self._ssl, f"{url}/{container}" if container else url

    async def logs(self, request: web.Request, pod: Object) -> web.StreamResponse:
        container = container_of(pod, request.query.get("container"))
        context, url = self._target(pod, container, "containerLogs")
        params = {k: request.query[k] for k in _LOG_OPTIONS if k in request.query}
        try:
            upstream = await self._client().get(url, params=params, ssl=context)
        except (aiohttp.ClientError, OSError) as e:
            raise errors.APIError(502, "BadGateway", f"the kubelet did not answer: {e}") from e
        async with upstream:
            if upstream.status != 200:
                raise _kubelet_error(upstream.status, await upstream.text())
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def attach(self, request: web.Request, pod: Object) -> web.StreamResponse:
        return await self.exec(request, pod, what="attach")

    async def exec(
        self, request: web.Request, pod: Object, what: str = "exec"
    ) -> web.StreamResponse:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            raise errors.bad_request(
                f"cannot {what} into a container in a completed pod; current phase is "
                f"{pod['status']['phase']}"
            )
        container = container_of(pod, request.query.get("container"))
        context, url = self._target(pod, container, what)
        params = [("command", c) for c in request.query.getall("command", [])]
        params += [(k, request.query[k]) for k in _EXEC_OPTIONS if k in request.query]
        if wants_spdy_upgrade(request):
            offered = request.headers.getall("X-Stream-Protocol-Version", [])
            if EXEC_SPDY_VERSIONS[0] not in offered:
                raise errors.bad_request(
                    f"ku7s speaks {EXEC_SPDY_VERSIONS[0]} over SPDY; the client offered "
                    f"{', '.join(offered) or 'nothing'}"
                )

            async def connect() -> aiohttp.ClientWebSocketResponse:
                return await self._ws(url, params, ["v5.channel.k8s.io"], context)

            return await serve_upgrade(
                request, EXEC_SPDY_VERSIONS[0], ExecBridge(request.query, connect)
            )
        return await self._relay_websocket(request, url, params, context)

    async def port_forward(self, request: web.Request, pod: Object) -> web.StreamResponse:
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if phase != "Running":
            raise errors.bad_request(
                f"unable to forward port because pod is not running. Current status={phase}"
            )
        context, url = self._target(pod, "", "portForward")

        async def connect(port: int) -> aiohttp.ClientWebSocketResponse:
            return await self._ws(url, [("ports", str(port))], ["v5.channel.k8s.io"], context)

        if wants_spdy_upgrade(request):
            return await serve_upgrade(request, PORT_FORWARD_VERSION, PortForwardBridge(connect))
        if wants_tunnel(request):
            return await serve_tunnel(request, PortForwardBridge(connect))
        params = [("ports", p) for p in request.query.getall("ports", [])]
        return await self._relay_websocket(request, url, params, context)

    async def _ws(
        self,
        url: str,
        params: list[tuple[str, str]],
        protocols: list[str],
        context: ssl.SSLContext,
    ) -> aiohttp.ClientWebSocketResponse:
        try:
            return await self._client().ws_connect(
                url, params=params, protocols=protocols, ssl=context, max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError as e:
            raise _kubelet_error(e.status, e.message) from e
        except (aiohttp.ClientError, OSError) as e:
            raise errors.APIError(502, "BadGateway", f"the kubelet did not answer: {e}") from e

    async def _relay_websocket(
        self,
        request: web.Request,
        url: str,
        params: list[tuple[str, str]],
        context: ssl.SSLContext,
    ) -> web.StreamResponse:
        """A client's WebSocket relayed frame by frame to the kubelet's, with the
        subprotocol the kubelet chose from those the client offered."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("Upgrade request required")
        offered = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        upstream = await self._ws(url, params, offered, context)
        downstream = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), max_msg_size=0
        )
        await downstream.prepare(request)
        await _relay(downstream, upstream)
        return downstream


async def _relay(client: web.WebSocketResponse, kubelet: aiohttp.ClientWebSocketResponse) -> None:
    async def forward(source: Any, target: Any) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.BINARY:
                await target.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await target.send_str(message.data)
            else:
                break

    tasks = [
        asyncio.create_task(forward(client, kubelet)),
        asyncio.create_task(forward(kubelet, client)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await kubelet.close()
        with contextlib.suppress(Exception):
            await client.close()


def _kubelet_error(status: int, text: str) -> errors.APIError:
    reason = {400: "BadRequest", 403: "Forbidden", 404: "NotFound"}.get(status, "InternalError")
    return errors.APIError(status if status in (400, 403, 404) else 500, reason, text.strip())
