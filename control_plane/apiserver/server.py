"""kube-apiserver as a component: HTTPS API, gRPC node service and lease monitor in one
event loop, sharing one Registry over one etcd connection."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc
from aiohttp import web
from prometheus_client import CollectorRegistry

from control_plane.apiserver.admission.claim_resize import ClaimResize
from control_plane.apiserver.admission.default_class import (
    DEFAULT_INGRESS_CLASS_PLUGIN,
    DEFAULT_STORAGE_CLASS_PLUGIN,
)
from control_plane.apiserver.admission.limit_ranger import LimitRanger
from control_plane.apiserver.admission.policies.plugin import PolicyAdmission
from control_plane.apiserver.admission.priority import PriorityAdmission
from control_plane.apiserver.admission.rbac_escalation import RBACEscalationCheck
from control_plane.apiserver.admission.resource_quota import QuotaAdmission
from control_plane.apiserver.admission.runtime_class import RuntimeClassAdmission
from control_plane.apiserver.admission.scale_targets import ScaleTargetCheck
from control_plane.apiserver.admission.service_account import ServiceAccountAdmission
from control_plane.apiserver.admission.storage_protection import StorageProtection
from control_plane.apiserver.admission.webhooks.client import WebhookClient
from control_plane.apiserver.admission.webhooks.plugin import WebhookAdmission
from control_plane.apiserver.aggregation.api_services import APIServices
from control_plane.apiserver.aggregation.front_proxy import FrontProxyCredentials
from control_plane.apiserver.aggregation.proxy import AggregationProxy
from control_plane.apiserver.allocators import ServiceAllocator
from control_plane.apiserver.app import build_app
from control_plane.apiserver.authentication.request_authenticator import RequestAuthenticator
from control_plane.apiserver.authentication.x509 import server_ssl_context
from control_plane.apiserver.authorization.authorizer import Authorizer
from control_plane.apiserver.authorization.policy_reconciler import reconcile_bootstrap_policy
from control_plane.apiserver.authorization.rbac import RBACAuthorizer
from control_plane.apiserver.bootstrap import (
    ensure_default_classes,
    ensure_default_namespaces,
    ensure_kube_proxy_config,
    ensure_kubernetes_service,
    ensure_root_ca_config_maps,
    ensure_system_config_map,
    ensure_system_priority_classes,
)
from control_plane.apiserver.custom_resources.registrar import CustomResourceRegistrar
from control_plane.apiserver.following import Follower
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.kubelet_proxy import KubeletProxy, kubelet_ssl_context
from control_plane.apiserver.metrics import APIServerMetrics
from control_plane.apiserver.node_addresses import NodeAddressResolver
from control_plane.apiserver.node_service.ipam import PodCIDRAllocator
from control_plane.apiserver.node_service.lease_monitor import NodeLeaseMonitor
from control_plane.apiserver.node_service.service import ClusterNetwork, NodeService, Timing
from control_plane.apiserver.node_service.tokens import BootstrapTokens
from control_plane.apiserver.registry import Registry
from control_plane.apiserver.storage import EtcdStorage
from control_plane.apiserver.tokens_api import TokensAPI
from control_plane.container import own_address
from control_plane.service_account_tokens import ServiceAccountTokens
from ku7s import pki as pki_files
from ku7s.pki import CertificateAuthority
from ku7s.rpc import node_pb2_grpc

log = logging.getLogger("kube-apiserver")

#: Seconds to close the etcd client at shutdown.
STORAGE_CLOSE_TIMEOUT = 1.0


@dataclass(frozen=True)
class APIServerConfig:
    pki_dir: Path  # ca.crt, ca.key, apiserver.crt, apiserver.key
    bootstrap_token_file: Path
    cluster_cidr: str
    service_cidr: str = "10.96.0.0/16"
    node_cidr_mask: int = 24
    bind_address: str = "0.0.0.0"
    secure_port: int = 6443
    #: Join without a client certificate (server-authenticated TLS only).
    node_bootstrap_port: int = 6444
    #: Connect with the node's client certificate (mutual TLS).
    node_port: int = 6445
    advertise_address: str = "127.0.0.1:6443"
    node_grace_seconds: int = 5
    #: Tolerations every pod gets for the not-ready and unreachable taints (upstream's
    #: DefaultTolerationSeconds admission).
    not_ready_toleration_seconds: int = 300
    unreachable_toleration_seconds: int = 300
    #: Upper bound on a service account token's life (--service-account-max-token-expiration).
    service_account_max_token_expiration: int | None = None


def service_account_key(pki: Path) -> bytes:
    """The token signing key made at create time (sa.key), made now for an older cluster."""
    path = pki / "sa.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        key = pki_files.private_key_pem(pki_files.new_private_key())
        path.write_bytes(key)
        path.chmod(0o600)
        return key


class APIServer:
    def __init__(
        self,
        config: APIServerConfig,
        storage: EtcdStorage,
        timing: Timing | None = None,
        metrics: APIServerMetrics | None = None,
    ) -> None:
        self._config = config
        self._storage = storage
        self._metrics = metrics or APIServerMetrics(CollectorRegistry())
        self._timing = timing or Timing(lease_duration_seconds=config.node_grace_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self._config
        storage = self._storage
        await storage.connect()
        pki = cfg.pki_dir
        ca_pem = (pki / "ca.crt").read_bytes()
        allocator = ServiceAllocator(storage, cfg.service_cidr)
        registry = Registry(
            storage,
            builtin_kinds(
                allocator,
                not_ready_toleration_seconds=cfg.not_ready_toleration_seconds,
                unreachable_toleration_seconds=cfg.unreachable_toleration_seconds,
                root_ca_pem=ca_pem.decode(),
            ),
            admission=[ServiceAccountAdmission()],
        )
        await ensure_default_namespaces(registry)
        await ensure_system_priority_classes(registry)
        await ensure_default_classes(registry)
        await ensure_root_ca_config_maps(registry, ca_pem.decode())
        await reconcile_bootstrap_policy(registry)
        rbac = RBACAuthorizer(registry)
        registry.admission.append(RBACEscalationCheck(rbac))  # until the rest are synced
        webhook_client = WebhookClient(registry)
        registrar = CustomResourceRegistrar(registry, webhook_client)
        webhooks = WebhookAdmission(registry, webhook_client)
        policies = PolicyAdmission(registry)
        priorities = PriorityAdmission(registry)
        limit_ranger = LimitRanger(registry)
        quotas = QuotaAdmission(registry)
        front_proxy = FrontProxyCredentials(pki)
        await ensure_system_config_map(
            registry, front_proxy.authentication_config_map(ca_pem.decode())
        )
        api_services = APIServices(registry, front_proxy)
        # What the API server keeps copies of by watch: each has its copy before serving.
        followers: list[Follower] = [
            rbac, registrar, webhooks, policies, api_services, priorities, limit_ranger, quotas
        ]  # fmt: skip
        following = [asyncio.create_task(f.run(stop)) for f in followers]
        for follower in followers:
            await follower.wait_synced()
        service_accounts, escalation = registry.admission
        # Upstream's order: LimitRanger, ServiceAccount, Priority, ..., the webhooks; quota last.
        registry.admission[:] = [
            limit_ranger, service_accounts, priorities, DEFAULT_STORAGE_CLASS_PLUGIN,
            StorageProtection(), ClaimResize(), DEFAULT_INGRESS_CLASS_PLUGIN,
            RuntimeClassAdmission(),
            ScaleTargetCheck(), escalation, webhooks,
        ]  # fmt: skip
        registry.validation += [policies, webhooks, quotas]
        await ensure_kubernetes_service(
            registry, allocator.kubernetes_service_ip, own_address(), cfg.secure_port
        )
        await ensure_kube_proxy_config(registry, cfg.cluster_cidr)

        ca = CertificateAuthority.load(ca_pem, (pki / "ca.key").read_bytes())
        tokens = ServiceAccountTokens(
            service_account_key(pki),
            max_expiration_seconds=cfg.service_account_max_token_expiration,
        )

        async def lookup(plural: str, namespace: str, name: str) -> dict[str, object] | None:
            return await registry.find(registry.kinds.get(plural), namespace, name)

        authenticator = RequestAuthenticator(
            tokens, lookup, BootstrapTokens(cfg.bootstrap_token_file)
        )
        node_service = NodeService(
            registry,
            ca,
            BootstrapTokens(cfg.bootstrap_token_file),
            PodCIDRAllocator(cfg.cluster_cidr, cfg.node_cidr_mask),
            self._timing,
            ClusterNetwork(cfg.cluster_cidr, allocator.cluster_dns_ip),
            service_account_tokens=tokens,
        )
        grpc_server = self._grpc_server(node_service)
        await grpc_server.start()

        kubelets = KubeletProxy(kubelet_ssl_context(pki), resolver=NodeAddressResolver(registry))
        app = build_app(
            registry,
            cfg.advertise_address,
            authenticator=authenticator,
            authorizer=Authorizer(rbac),
            kubelets=kubelets,
            metrics=self._metrics,
            tokens=TokensAPI(registry, tokens, authenticator, cfg.advertise_address),
            aggregation=(aggregation := AggregationProxy(api_services)),
        )
        counting = asyncio.create_task(
            self._metrics.count_objects(registry.kinds, storage.count, stop)
        )
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        ssl_context = server_ssl_context(
            pki / "apiserver.crt", pki / "apiserver.key", pki / "ca.crt"
        )
        # Watches stay open for minutes; a restart waits for none of them.
        site = web.TCPSite(
            runner, cfg.bind_address, cfg.secure_port, ssl_context=ssl_context, shutdown_timeout=1.0
        )
        await site.start()
        log.info("serving on https://%s:%d", cfg.bind_address, cfg.secure_port)

        monitor = NodeLeaseMonitor(registry, node_service.mark_unknown)
        try:
            await monitor.run(stop)
        finally:
            counting.cancel()
            for task in following:
                task.cancel()
            # Kubelet streams and watches never end by themselves: both get their second.
            await asyncio.gather(grpc_server.stop(grace=1), runner.cleanup())
            await node_service.drain()
            await kubelets.close()
            await webhook_client.close()
            await aggregation.close()
            # etcd gets its SIGTERM at the same moment and may be gone: closing a client
            # to it then waits for nothing.
            try:
                await asyncio.wait_for(storage.close(), STORAGE_CLOSE_TIMEOUT)
            except TimeoutError:
                log.info("etcd gone before its client closed")

    def _grpc_server(self, node_service: NodeService) -> grpc.aio.Server:
        cfg, pki = self._config, self._config.pki_dir
        key, cert, ca = (
            (pki / "apiserver.key").read_bytes(),
            (pki / "apiserver.crt").read_bytes(),
            (pki / "ca.crt").read_bytes(),
        )
        interval_ms = int(self._timing.heartbeat_interval * 1000)
        server = grpc.aio.server(
            options=[
                # Find a dead peer (a node container stopped or killed sends no FIN) within
                # about two heartbeats: ping every heartbeat, give up after one more.
                ("grpc.keepalive_time_ms", interval_ms),
                ("grpc.keepalive_timeout_ms", interval_ms),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", interval_ms // 2),
                ("grpc.http2.max_pings_without_data", 0),
            ]
        )
        node_pb2_grpc.add_NodeServiceServicer_to_server(node_service, server)
        server.add_secure_port(
            f"{cfg.bind_address}:{cfg.node_bootstrap_port}",
            grpc.ssl_server_credentials([(key, cert)]),
        )
        server.add_secure_port(
            f"{cfg.bind_address}:{cfg.node_port}",
            grpc.ssl_server_credentials(
                [(key, cert)], root_certificates=ca, require_client_auth=True
            ),
        )
        return server
