"""The container specs of a cluster's nodes, and the secrets that go into them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ku7s import kubeconfig, pki
from ku7s.cluster.config import ClusterConfig, NodeConfig
from ku7s.cluster.providers.node_spec import API_SERVER_PORT, NodeSpec
from ku7s.names import (
    CLUSTER_ENV,
    CONTROL_PLANE,
    WORKER,
    containerd_volume_name,
    control_plane_name,
    etcd_volume_name,
    network_name,
)

PKI_DIR = "/etc/ku7s/pki"
SERVICE_ACCOUNT_KEY_FILE = "sa.key"
#: The API server's and node service's (bootstrap, then node) ports, published on
#: networking.nodeServiceAddress when it is set.
CONTROL_PLANE_PORTS = (6443, 6444, 6445)
#: Where the control plane's container tells which host address they are published on.
NODE_SERVICE_ADDRESS_ENV = "KU7S_NODE_SERVICE_ADDRESS"
TOKENS_PATH = "/etc/ku7s/bootstrap-tokens"
ADMIN_KUBECONFIG_PATH = "/etc/ku7s/admin.conf"
CONTROLLER_MANAGER_KUBECONFIG_PATH = "/etc/ku7s/controller-manager.conf"
SCHEDULER_KUBECONFIG_PATH = "/etc/ku7s/scheduler.conf"
DNS_KUBECONFIG_PATH = "/etc/ku7s/cluster-dns.conf"
CLOUD_KUBECONFIG_PATH = "/etc/ku7s/cloud-controller-manager.conf"
#: The common name kubelets accept on their API: the API server's client certificate.
KUBELET_CLIENT_NAME = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class ClusterSecrets:
    """Made on the host at create time; the control plane keeps them from then on."""

    ca: pki.CertificateAuthority
    apiserver: pki.KeyPair
    admin: pki.KeyPair
    controller_manager: pki.KeyPair
    scheduler: pki.KeyPair
    #: The API server's identity toward kubelets (logs, exec).
    kubelet_client: pki.KeyPair
    dns: pki.KeyPair
    cloud_controller_manager: pki.KeyPair
    token: str
    #: Signs service account tokens (kubeadm's sa.key): the API server signs with it and
    #: the token controller fills legacy token Secrets with it.
    service_account_key_pem: bytes

    @classmethod
    def create(cls, cluster: str, service_subnet: str = "10.96.0.0/16") -> ClusterSecrets:
        ca = pki.CertificateAuthority.create(cluster)
        # Pods reach the API at the kubernetes Service's address, the subnet's first.
        kubernetes_service_ip = str(ipaddress.ip_network(service_subnet).network_address + 1)
        apiserver = ca.issue_server(
            "kube-apiserver",
            [
                "localhost",
                control_plane_name(cluster),
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ["127.0.0.1", kubernetes_service_ip],
        )
        admin = ca.issue_client("kubernetes-admin", ("system:masters",))
        controller_manager = ca.issue_client("system:kube-controller-manager")
        scheduler = ca.issue_client("system:kube-scheduler")
        kubelet_client = ca.issue_client(KUBELET_CLIENT_NAME, ("system:masters",))
        return cls(
            ca,
            apiserver,
            admin,
            controller_manager,
            scheduler,
            kubelet_client,
            ca.issue_client("system:serviceaccount:kube-system:coredns"),
            ca.issue_client("system:cloud-controller-manager"),
            pki.new_bootstrap_token(),
            pki.private_key_pem(pki.new_private_key()),
        )


def control_plane_spec(
    config: ClusterConfig, secrets: ClusterSecrets, image: str, host_port: int
) -> NodeSpec:
    name = control_plane_name(config.name)
    admin = kubeconfig.render(
        config.name,
        f"https://{name}:{API_SERVER_PORT}",
        secrets.ca.cert_pem,
        secrets.admin.cert_pem,
        secrets.admin.key_pem,
    )
    # Components in the control-plane container reach the API over loopback.
    components = {
        path: kubeconfig.dump(
            kubeconfig.render(
                config.name,
                f"https://127.0.0.1:{API_SERVER_PORT}",
                secrets.ca.cert_pem,
                identity.cert_pem,
                identity.key_pem,
            )
        ).encode()
        for path, identity in (
            (CONTROLLER_MANAGER_KUBECONFIG_PATH, secrets.controller_manager),
            (SCHEDULER_KUBECONFIG_PATH, secrets.scheduler),
            (DNS_KUBECONFIG_PATH, secrets.dns),
            (CLOUD_KUBECONFIG_PATH, secrets.cloud_controller_manager),
        )
    }
    node = next(n for n in config.nodes if n.role == CONTROL_PLANE)
    return NodeSpec(
        name=name,
        cluster=config.name,
        role=CONTROL_PLANE,
        image=image,
        network=network_name(config.name),
        env={
            "KU7S_ROLE": CONTROL_PLANE,
            CLUSTER_ENV: config.name,
            "KU7S_POD_SUBNET": config.pod_subnet,
            "KU7S_SERVICE_SUBNET": config.service_subnet,
            "KU7S_API_SERVER_HOST_PORT": str(host_port),
            "KU7S_NODE_GRACE_SECONDS": str(config.node_grace_seconds),
            "KU7S_POD_EVICTION_SECONDS": str(config.pod_eviction_seconds),
            "KU7S_MAX_TOKEN_EXPIRATION_SECONDS": str(config.max_token_expiration_seconds or ""),
            "KU7S_REGION": config.region,
            "KU7S_ZONES": str(config.zones),
            NODE_SERVICE_ADDRESS_ENV: config.node_service_address,
        },
        files={
            f"{PKI_DIR}/ca.crt": secrets.ca.cert_pem,
            f"{PKI_DIR}/ca.key": secrets.ca.key_pem,
            f"{PKI_DIR}/apiserver.crt": secrets.apiserver.cert_pem,
            f"{PKI_DIR}/apiserver.key": secrets.apiserver.key_pem,
            f"{PKI_DIR}/apiserver-kubelet-client.crt": secrets.kubelet_client.cert_pem,
            f"{PKI_DIR}/apiserver-kubelet-client.key": secrets.kubelet_client.key_pem,
            f"{PKI_DIR}/{SERVICE_ACCOUNT_KEY_FILE}": secrets.service_account_key_pem,
            TOKENS_PATH: secrets.token.encode() + b"\n",
            ADMIN_KUBECONFIG_PATH: kubeconfig.dump(admin).encode(),
            **components,
        },
        volume=etcd_volume_name(config.name),
        volume_path="/var/lib/etcd",
        nano_cpus=node.nano_cpus,
        memory_bytes=node.memory_bytes,
        api_server_host_port=host_port,
        published=tuple(
            (port, "TCP", config.node_service_address, port) for port in CONTROL_PLANE_PORTS
        )
        if config.node_service_address
        else (),
    )


def worker_spec(
    cluster: str, name: str, node: NodeConfig, image: str, ca_pem: bytes, token: str
) -> NodeSpec:
    return NodeSpec(
        name=name,
        cluster=cluster,
        role=WORKER,
        image=image,
        network=network_name(cluster),
        env={
            "KU7S_ROLE": WORKER,
            CLUSTER_ENV: cluster,
            "KU7S_NODE_NAME": name,
            "KU7S_CONTROL_PLANE": control_plane_name(cluster),
            "KU7S_BOOTSTRAP_TOKEN": token,
            "KU7S_NODE_LABELS": ",".join(f"{k}={v}" for k, v in node.labels.items()),
            "KU7S_NODE_TAINTS": ",".join(str(t) for t in node.taints),
            "KU7S_NODE_CPU": node.cpu or "",
            "KU7S_NODE_MEMORY": node.memory or "",
        },
        files={f"{PKI_DIR}/ca.crt": ca_pem},
        volume=containerd_volume_name(name),
        nano_cpus=node.nano_cpus,
        memory_bytes=node.memory_bytes,
        published=tuple(
            (m.container_port, m.protocol, m.listen_address, m.host_port)
            for m in node.port_mappings
        ),
    )
