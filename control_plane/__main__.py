"""The control-plane container's main process: supervise etcd, kube-apiserver and the
controller processes. Settings come from the container's environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ku7s.metrics.ports import PORTS
from ku7s.names import cluster_from_env
from ku7s.supervisor import Program
from ku7s.supervisor.supervisor import run_until_signalled

ETCD_DATA_DIR = "/var/lib/etcd/data"


def _max_token_expiration(env: dict[str, str]) -> tuple[str, ...]:
    seconds = env.get("KU7S_MAX_TOKEN_EXPIRATION_SECONDS", "")
    return ("--service-account-max-token-expiration", seconds) if seconds else ()


def programs(env: dict[str, str]) -> list[Program]:
    python = sys.executable
    api_port = env.get("KU7S_API_SERVER_HOST_PORT", "6443")
    return [
        Program(
            "etcd",
            (
                "etcd",
                "--name",
                "ku7s",
                "--data-dir",
                ETCD_DATA_DIR,
                "--listen-client-urls",
                "http://127.0.0.1:2379",
                "--advertise-client-urls",
                "http://127.0.0.1:2379",
                "--listen-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-cluster",
                "ku7s=http://127.0.0.1:2380",
                # Its own /metrics, for Prometheus on the cluster network (kubeadm's port).
                "--listen-metrics-urls",
                f"http://0.0.0.0:{PORTS['etcd']}",
                "--auto-compaction-mode",
                "periodic",
                "--auto-compaction-retention",
                "5m",
                "--quota-backend-bytes",
                str(2 * 1024**3),
                "--snapshot-count",
                "10000",
                "--log-level",
                "warn",
            ),
            stop_timeout=10,
        ),
        Program(
            "kube-apiserver",
            (
                python,
                "-m",
                "control_plane.apiserver",
                "--etcd",
                "127.0.0.1:2379",
                "--pki-dir",
                "/etc/ku7s/pki",
                "--bootstrap-token-file",
                "/etc/ku7s/bootstrap-tokens",
                "--cluster-cidr",
                env.get("KU7S_POD_SUBNET", "10.244.0.0/16"),
                "--service-cluster-ip-range",
                env.get("KU7S_SERVICE_SUBNET", "10.96.0.0/16"),
                "--advertise-address",
                f"127.0.0.1:{api_port}",
                "--node-monitor-grace-period",
                env.get("KU7S_NODE_GRACE_SECONDS", "5"),
                "--default-not-ready-toleration-seconds",
                env.get("KU7S_POD_EVICTION_SECONDS", "10"),
                "--default-unreachable-toleration-seconds",
                env.get("KU7S_POD_EVICTION_SECONDS", "10"),
                *_max_token_expiration(env),
            ),
        ),
        Program(
            "kube-scheduler",
            (python, "-m", "control_plane.scheduler", "--kubeconfig", "/etc/ku7s/scheduler.conf"),
        ),
        Program(
            "kube-controller-manager",
            (
                python,
                "-m",
                "control_plane.controllers",
                "--kubeconfig",
                "/etc/ku7s/controller-manager.conf",
            ),
        ),
        Program(
            "cloud-controller-manager",
            (
                python,
                "-m",
                "control_plane.cloud",
                "--cluster",
                cluster_from_env(env),
                "--region",
                env.get("KU7S_REGION", "local"),
                "--zones",
                env.get("KU7S_ZONES", "1"),
            ),
        ),
        Program(
            "cluster-dns",
            (
                python,
                "-m",
                "control_plane.dns",
                "--kubeconfig",
                "/etc/ku7s/cluster-dns.conf",
                "--service-cluster-ip-range",
                env.get("KU7S_SERVICE_SUBNET", "10.96.0.0/16"),
            ),
        ),
    ]


if __name__ == "__main__":
    run_until_signalled(programs(dict(os.environ)), Path("/var/log/ku7s"))
