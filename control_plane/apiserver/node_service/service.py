"""The NodeService gRPC servicer: Join and the kubelet's Connect session."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import orjson

from control_plane.apiserver import errors
from control_plane.apiserver.node_service import node_objects
from control_plane.apiserver.node_service.ipam import PodCIDRAllocator, PodCIDRExhausted
from control_plane.apiserver.node_service.pod_feed import PodFeed
from control_plane.apiserver.node_service.pod_references import pod_references
from control_plane.apiserver.node_service.pod_reports import PodReports
from control_plane.apiserver.node_service.tokens import BootstrapTokens
from control_plane.apiserver.registry import ListOptions, Registry
from control_plane.service_account_tokens import (
    MIN_EXPIRATION_SECONDS,
    BoundRef,
    ServiceAccountTokens,
)
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.api.validation import dns1123_label_errors
from ku7s.pki import CertificateAuthority, CertificateRequestError
from ku7s.rpc import node_pb2, node_pb2_grpc

log = logging.getLogger("node-service")

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
#: What a kubelet may read through Fetch.
FETCHABLE = ("configmaps", "secrets", "services", "persistentvolumeclaims", "persistentvolumes")


@dataclass(frozen=True)
class ClusterNetwork:
    """What every kubelet is told at registration about the cluster's network."""

    cluster_cidr: str = ""
    cluster_dns: str = ""
    cluster_domain: str = "cluster.local"


@dataclass(frozen=True)
class Timing:
    """How often kubelets heartbeat and how long a Lease stays valid without one.

    Beyond ``heartbeats_per_second`` nodes' worth of beats, the interval grows with the
    number of connected nodes (up to upstream's 10 s renewals), and a Lease then lasts four
    intervals (upstream's 40 s at 10 s), so the Lease writes stay about that many a second.
    """

    heartbeat_interval: float = 1.0
    lease_duration_seconds: int = 4
    #: An unchanged Ready condition is still rewritten this often, so its lastHeartbeatTime
    #: stays recent (the kubelet's nodeStatusReportFrequency; upstream's default is 5 min).
    status_report_seconds: float = 60.0
    heartbeats_per_second: float = 100.0
    max_heartbeat_interval: float = 10.0
    #: The longest status_report_seconds grows to at size (upstream's default).
    max_status_report_seconds: float = 300.0

    def interval_for(self, nodes: int) -> float:
        wanted = nodes / self.heartbeats_per_second
        return min(max(self.heartbeat_interval, wanted), self.max_heartbeat_interval)

    def status_report_seconds_for(self, nodes: int) -> float:
        """Slowed down as the heartbeats are: each Node write reaches every Node watcher
        (scheduler, controllers, proxies), so 1,000 nodes at 60 s were 17 a second."""
        slower = self.interval_for(nodes) / self.heartbeat_interval
        return min(
            self.status_report_seconds * slower,
            max(self.status_report_seconds, self.max_status_report_seconds),
        )

    def lease_seconds_for(self, nodes: int) -> int:
        interval = self.interval_for(nodes)
        scaled = self.lease_duration_seconds * interval / self.heartbeat_interval
        return max(self.lease_duration_seconds, math.ceil(scaled))


class NodeService(node_pb2_grpc.NodeServiceServicer):
    def __init__(
        self,
        registry: Registry,
        ca: CertificateAuthority,
        tokens: BootstrapTokens,
        allocator: PodCIDRAllocator,
        timing: Timing | None = None,
        network: ClusterNetwork | None = None,
        service_account_tokens: ServiceAccountTokens | None = None,
    ) -> None:
        self._registry = registry
        self._service_account_tokens = service_account_tokens
        self._network = network or ClusterNetwork()
        self._ca = ca
        self._tokens = tokens
        self._allocator = allocator
        self._timing = timing or Timing()
        self._allocation_lock = asyncio.Lock()
        self._session_ids = itertools.count(1)
        #: The live session of each node; a reconnect replaces it.
        self._sessions: dict[str, int] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._nodes = registry.kinds.get("nodes")
        #: Each connected node's Node and Lease as this service last read or wrote them, so
        #: that a heartbeat costs one write, not two reads and a write. Nothing but this
        #: service writes a Lease or the Ready condition (mark_unknown forgets the Node; a
        #: deleted Node's Lease goes with it, and a missing Lease makes it read the Node).
        self._nodes_seen: dict[str, dict[str, Any]] = {}
        self._leases_seen: dict[str, dict[str, Any]] = {}
        #: The pod CIDRs of the Nodes, as last listed plus those handed out since.
        self._cidrs_in_use: set[str] | None = None
        self._leases = registry.kinds.get("leases", "coordination.k8s.io")

    # -- Join ----------------------------------------------------------------------------

    async def Join(
        self, request: node_pb2.JoinRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.JoinResponse:
        if not self._tokens.accepts(request.token):
            log.warning("refused join of %r: invalid bootstrap token", request.node_name)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid bootstrap token")
        if problems := dns1123_label_errors(request.node_name):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid node name {request.node_name!r}: {problems[0]}",
            )
        try:
            cert = self._ca.sign_request(
                request.csr_pem,
                NODE_USER_PREFIX + request.node_name,
                (NODES_GROUP,),
                serving_names=(request.node_name,),
            )
        except CertificateRequestError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        log.info("node %s joined", request.node_name)
        return node_pb2.JoinResponse(certificate_pem=cert, ca_pem=self._ca.cert_pem)

    # -- Connect -------------------------------------------------------------------------

    async def Connect(
        self,
        request_iterator: AsyncIterator[node_pb2.NodeMessage],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[node_pb2.ControlMessage]:
        """One kubelet session: messages from the node are read by a task of their own, so
        that the pods sent to the node and the answers to its heartbeats share the stream."""
        peer_node = _node_name_from_peer(context.auth_context())
        if peer_node is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Connect needs the client certificate issued by Join",
            )
            return
        session = _Session(peer_node, next(self._session_ids))
        reader = asyncio.get_running_loop().create_task(
            self._read(session, request_iterator, context)
        )
        try:
            while True:
                message = await session.outbox.get()
                if message is None:
                    break
                yield message
            await reader  # raises what ended the session (an abort, say)
        finally:
            for task in (reader, *session.tasks):
                task.cancel()
            await asyncio.gather(reader, *session.tasks, return_exceptions=True)
            if session.registered and self._sessions.get(session.node) == session.id:
                del self._sessions[session.node]
                self._in_background(self.mark_unknown(session.node, "stream closed"))

    async def _read(
        self,
        session: _Session,
        request_iterator: AsyncIterator[node_pb2.NodeMessage],
        context: grpc.aio.ServicerContext,
    ) -> None:
        node_name = session.node
        reports = PodReports(self._registry, node_name)
        try:
            async for message in request_iterator:
                kind = message.WhichOneof("kind")
                if kind == "register":
                    if message.register.node_name != node_name:
                        await context.abort(
                            grpc.StatusCode.PERMISSION_DENIED,
                            f"certificate is for node {node_name!r}, not "
                            f"{message.register.node_name!r}",
                        )
                    self._sessions[node_name] = session.id
                    pod_cidr = await self._register(message.register)
                    session.send(
                        node_pb2.ControlMessage(
                            registered=node_pb2.Registered(
                                pod_cidr=pod_cidr,
                                heartbeat_interval_ms=self._interval_ms(),
                                lease_duration_seconds=self._lease_seconds(),
                                cluster_cidr=self._network.cluster_cidr,
                                cluster_dns=self._network.cluster_dns,
                                cluster_domain=self._network.cluster_domain,
                            )
                        )
                    )
                    if not session.registered:
                        session.registered = True
                        session.start(PodFeed(self._registry, node_name).run(session.send))
                        session.start(session.work_through_reports(reports))
                    continue
                if not session.registered:
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION, "register before anything else"
                    )
                if kind == "heartbeat":
                    lease_rv = await self._heartbeat(node_name, message.heartbeat)
                    session.send(
                        node_pb2.ControlMessage(
                            ack=node_pb2.HeartbeatAck(
                                lease_resource_version=lease_rv,
                                heartbeat_interval_ms=self._interval_ms(),
                            )
                        )
                    )
                elif kind is not None:
                    session.reports.put_nowait(message)
        finally:
            session.outbox.put_nowait(None)

    # -- Fetch ---------------------------------------------------------------------------

    async def Fetch(
        self, request: node_pb2.FetchRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.FetchResponse:
        """Objects a pod's spec names: config maps and secrets (volumes, env) of pods bound
        to the calling node, and the services of its namespace (service variables)."""
        node = _node_name_from_peer(context.auth_context())
        if node is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "Fetch needs the client certificate issued by Join"
            )
        if request.resource not in FETCHABLE:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"nodes may not read {request.resource!r}; only {', '.join(FETCHABLE)}",
            )
        if request.resource == "persistentvolumes":
            allowed = await self._volume_readable(str(node), request.name)
        else:
            allowed = request.resource == "services" or await self._referenced(
                str(node), request.resource, request.namespace, request.name
            )
        if not allowed:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"node {node!r} may read only the {request.resource} of pods bound to it: "
                f"no such pod references {request.namespace}/{request.name}",
            )
        kind = self._registry.kinds.get(request.resource)
        try:
            if request.name:
                found: Any = await self._registry.get(kind, request.namespace, request.name)
            else:
                page = await self._registry.list(kind, request.namespace, ListOptions())
                found = {
                    "items": page.items,
                    "metadata": {"resourceVersion": page.resource_version},
                }
        except errors.APIError as e:
            code = grpc.StatusCode.NOT_FOUND if e.code == 404 else grpc.StatusCode.UNAVAILABLE
            await context.abort(code, e.message)
        return node_pb2.FetchResponse(object_json=orjson.dumps(found))

    async def _pods_on(self, node: str, namespace: str) -> list[Any]:
        page = await self._registry.list(
            self._registry.kinds.get("pods"),
            namespace,
            ListOptions(field_selector=f"spec.nodeName={node}"),
        )
        return page.items

    async def _referenced(self, node: str, resource: str, namespace: str, name: str) -> bool:
        """Whether a pod bound to node names the object (upstream's Node authorizer rule)."""
        if not name:
            return False
        return any(
            (resource, name) in pod_references(pod) for pod in await self._pods_on(node, namespace)
        )

    async def _volume_readable(self, node: str, name: str) -> bool:
        """A volume pinned to the node, one a pod there uses through its claim, or one that
        does not exist (the kubelet learns it is gone, and frees its directory)."""
        if not name:
            return False
        volume = await self._registry.find(self._registry.kinds.get("persistentvolumes"), "", name)
        if volume is None:
            return True
        pinned = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
        found = await self._registry.find(self._registry.kinds.get("nodes"), "", node)
        if pinned and found is not None and pv.volume_fits_node(volume, found):
            return True
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        return bool(ref) and await self._referenced(
            node, "persistentvolumeclaims", ref.get("namespace", ""), ref.get("name", "")
        )

    async def RequestToken(
        self, request: node_pb2.ServiceAccountTokenRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ServiceAccountTokenResponse:
        """A token bound to a pod of the calling node, for its projected volumes."""
        node = _node_name_from_peer(context.auth_context())
        if node is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "RequestToken needs the client certificate issued by Join",
            )
        if self._service_account_tokens is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "no service account key")
        tokens = self._service_account_tokens
        assert tokens is not None and node is not None
        pods = self._registry.kinds.get("pods")
        pod = await self._registry.find(pods, request.namespace, request.pod_name)
        if (
            pod is None
            or pod["metadata"].get("uid") != request.pod_uid
            or (pod.get("spec") or {}).get("nodeName") != node
            or (pod.get("spec") or {}).get("serviceAccountName", "default")
            != request.service_account
        ):
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"node {node!r} may request tokens only for its own pods' service accounts",
            )
        assert pod is not None
        account = await self._registry.find(
            self._registry.kinds.get("serviceaccounts"), request.namespace, request.service_account
        )
        if account is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f'serviceaccount "{request.service_account}" not found',
            )
        assert account is not None
        node_object = await self._registry.find(self._nodes, "", node)
        token, expires = tokens.issue(
            request.namespace,
            BoundRef(request.service_account, account["metadata"]["uid"]),
            list(request.audiences),
            max(int(request.expiration_seconds or 3600), MIN_EXPIRATION_SECONDS),
            pod=BoundRef(request.pod_name, request.pod_uid),
            node=BoundRef(node, (node_object or {}).get("metadata", {}).get("uid", "")),
        )
        return node_pb2.ServiceAccountTokenResponse(token=token, expiration_unix=expires)

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _interval_ms(self) -> int:
        return int(self._timing.interval_for(len(self._sessions)) * 1000)

    def _lease_seconds(self) -> int:
        return self._timing.lease_seconds_for(len(self._sessions))

    def is_connected(self, node_name: str) -> bool:
        return node_name in self._sessions

    async def _register(self, reg: node_pb2.Registration) -> str:
        try:
            node = await self._registry.get(self._nodes, "", reg.node_name)
        except errors.APIError as e:
            if e.code != 404:
                raise
            node = None
        if node is None:
            async with self._allocation_lock:
                pod_cidr = await self._allocate()
                node = await self._registry.create(
                    self._nodes, "", node_objects.new_node(reg, pod_cidr)
                )
            log.info("registered node %s with pod CIDR %s", reg.node_name, pod_cidr)
        else:
            pod_cidr = node.get("spec", {}).get("podCIDR") or ""
            if not pod_cidr:
                async with self._allocation_lock:
                    pod_cidr = await self._allocate()
            node = await self._registry.mutate(
                self._nodes,
                "",
                reg.node_name,
                lambda current: node_objects.reregistered(current, reg, pod_cidr),
            )
            node = await self._registry.mutate(
                self._nodes,
                "",
                reg.node_name,
                lambda current: node_objects.reregistered(current, reg, pod_cidr),
                subresource="status",
            )
            log.info("node %s registered again", reg.node_name)
        self._nodes_seen[reg.node_name] = node
        await self._renew_lease(node)
        return pod_cidr

    async def _allocate(self) -> str:
        """A free pod CIDR. The blocks in use are listed once and then kept (every node is
        registered here), so the thousandth node does not list the 999 before it; blocks
        of nodes deleted since are found again when the kept ones run out."""
        if self._cidrs_in_use is None:
            self._cidrs_in_use = await self._listed_cidrs()
        try:
            cidr = self._allocator.allocate(self._cidrs_in_use)
        except PodCIDRExhausted:
            self._cidrs_in_use = await self._listed_cidrs()
            try:
                cidr = self._allocator.allocate(self._cidrs_in_use)
            except PodCIDRExhausted as e:
                raise errors.APIError(507, "InsufficientStorage", str(e)) from e
        self._cidrs_in_use.add(cidr)
        return cidr

    async def _listed_cidrs(self) -> set[str]:
        page = await self._registry.list(self._nodes, None, ListOptions())
        return {str(n.get("spec", {}).get("podCIDR", "")) for n in page.items}

    async def _renew_lease(self, node: dict[str, Any]) -> int:
        name = node["metadata"]["name"]
        duration = self._lease_seconds()
        namespace = node_objects.NODE_LEASE_NAMESPACE
        try:
            lease = await self._registry.mutate(
                self._leases,
                namespace,
                name,
                lambda current: node_objects.renewed(current, node, duration),
                last_seen=self._leases_seen.get(name),
            )
        except errors.APIError as e:
            self._leases_seen.pop(name, None)
            if e.code != 404:
                raise
            # The Lease goes when its Node is deleted: read the Node again (a 404 if it is
            # gone too, which ends the session as before).
            self._nodes_seen.pop(name, None)
            node = await self._registry.get(self._nodes, "", name)
            lease = await self._registry.create(
                self._leases, namespace, node_objects.new_lease(node, duration)
            )
        self._leases_seen[name] = lease
        return int(lease["metadata"]["resourceVersion"])

    async def _heartbeat(self, node_name: str, beat: node_pb2.Heartbeat) -> int:
        """Renew the Lease; write the Ready condition only when it differs from the beat.

        Comparing with the stored Node, not with the last beat, also heals a Node that the
        lease monitor marked Unknown while this session was silent.
        """
        node = self._nodes_seen.get(node_name)
        if node is None:
            node = self._nodes_seen[node_name] = await self._registry.get(
                self._nodes, "", node_name
            )
        rv = await self._renew_lease(node)
        if beat.ready:
            status, reason, message = "True", "KubeletReady", "kubelet is posting ready status"
        else:
            status = "False"
            reason = beat.reason or "KubeletNotReady"
            message = beat.message or "container runtime is not ready"
        current = meta.condition(node, "Ready") or {}
        changed = (current.get("status"), current.get("reason"), current.get("message")) != (
            status,
            reason,
            message,
        )
        if changed or self._stale(current):
            self._nodes_seen[node_name] = await self._registry.mutate(
                self._nodes,
                "",
                node_name,
                lambda current: node_objects.with_ready(current, status, reason, message),
                subresource="status",
            )
            log.info("node %s Ready=%s (%s)", node_name, status, reason)
        return rv

    def _stale(self, condition: dict[str, Any]) -> bool:
        beat = condition.get("lastHeartbeatTime")
        if not beat:
            return True
        age = datetime.datetime.now(datetime.UTC) - meta.parse_time(beat)
        return age.total_seconds() >= self._timing.status_report_seconds_for(len(self._sessions))

    async def mark_unknown(self, node_name: str, why: str) -> None:
        """Ready=Unknown, as the node lifecycle controller sets when a kubelet goes quiet."""
        self._nodes_seen.pop(node_name, None)
        try:
            await self._registry.mutate(
                self._nodes,
                "",
                node_name,
                lambda current: node_objects.with_ready(
                    current, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
                ),
                subresource="status",
            )
            log.info("node %s NotReady: %s", node_name, why)
        except errors.APIError as e:
            if e.code != 404:  # a deleted node has nothing left to mark
                log.warning("could not mark node %s NotReady: %s", node_name, e.message)

    async def drain(self) -> None:
        """Wait for background status writes (used at shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


class _Session:
    """The state of one Connect call."""

    def __init__(self, node: str, session_id: int) -> None:
        self.node = node
        self.id = session_id
        self.registered = False
        self.outbox: asyncio.Queue[node_pb2.ControlMessage | None] = asyncio.Queue()
        self.reports: asyncio.Queue[node_pb2.NodeMessage] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    def send(self, message: node_pb2.ControlMessage) -> None:
        self.outbox.put_nowait(message)

    def start(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        task.add_done_callback(self._fail_session_on_error)
        self.tasks.append(task)

    def _fail_session_on_error(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("session of node %s failed: %r", self.node, task.exception())
            self.outbox.put_nowait(None)

    async def work_through_reports(self, reports: PodReports) -> None:
        """Apply the node's reports in the order it sent them, beside the heartbeats."""
        while True:
            message = await self.reports.get()
            kind = message.WhichOneof("kind")
            try:
                if kind == "pod_status":
                    await reports.status(message.pod_status)
                elif kind == "pod_terminated":
                    await reports.terminated(message.pod_terminated)
                elif kind == "event":
                    await reports.event(message.event)
            except errors.APIError as e:
                log.warning("node %s: could not apply %s: %s", self.node, kind, e.message)


def _node_name_from_peer(auth_context: dict[str, list[bytes]]) -> str | None:
    names = auth_context.get("x509_common_name") or []
    if not names:
        return None
    common_name = names[0].decode()
    if not common_name.startswith(NODE_USER_PREFIX):
        return None
    return common_name[len(NODE_USER_PREFIX) :]
