"""kube-apiserver entry point: ``python -m control_plane.apiserver --etcd ... --pki-dir ...``."""

from __future__ import annotations

import argparse
import gc
import logging
from pathlib import Path

import uvloop
from prometheus_client import CollectorRegistry

from control_plane.apiserver.metrics import APIServerMetrics
from control_plane.apiserver.server import APIServer, APIServerConfig
from control_plane.apiserver.storage import EtcdStorage
from ku7s.aio import stop_on_signals


def parse_args(argv: list[str] | None = None) -> tuple[APIServerConfig, str, int]:
    """The server's config, and etcd's host and port."""
    parser = argparse.ArgumentParser(prog="kube-apiserver")
    parser.add_argument("--etcd", default="127.0.0.1:2379", help="etcd client host:port")
    parser.add_argument("--pki-dir", type=Path, default=Path("/etc/ku7s/pki"))
    parser.add_argument(
        "--bootstrap-token-file", type=Path, default=Path("/etc/ku7s/bootstrap-tokens")
    )
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16")
    parser.add_argument("--service-cluster-ip-range", default="10.96.0.0/16")
    parser.add_argument("--node-cidr-mask-size", type=int, default=24)
    parser.add_argument("--secure-port", type=int, default=6443)
    parser.add_argument("--node-bootstrap-port", type=int, default=6444)
    parser.add_argument("--node-port", type=int, default=6445)
    parser.add_argument("--advertise-address", default="127.0.0.1:6443")
    parser.add_argument(
        "--node-monitor-grace-period",
        type=int,
        default=5,
        help="seconds without a heartbeat before a node is NotReady (its Lease's duration)",
    )
    parser.add_argument("--default-not-ready-toleration-seconds", type=int, default=300)
    parser.add_argument("--default-unreachable-toleration-seconds", type=int, default=300)
    parser.add_argument(
        "--service-account-max-token-expiration",
        type=int,
        default=None,
        help="seconds: tokens asked for longer get this long (default: no bound)",
    )
    args = parser.parse_args(argv)
    host, _, port = args.etcd.rpartition(":")
    config = APIServerConfig(
        pki_dir=args.pki_dir,
        bootstrap_token_file=args.bootstrap_token_file,
        cluster_cidr=args.cluster_cidr,
        service_cidr=args.service_cluster_ip_range,
        node_cidr_mask=args.node_cidr_mask_size,
        secure_port=args.secure_port,
        node_bootstrap_port=args.node_bootstrap_port,
        node_port=args.node_port,
        advertise_address=args.advertise_address,
        node_grace_seconds=args.node_monitor_grace_period,
        not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
        unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
        service_account_max_token_expiration=args.service_account_max_token_expiration,
    )
    return config, host or "127.0.0.1", int(port)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config, etcd_host, etcd_port = parse_args()
    # What is loaded now lives as long as the process: keep it out of the collector's
    # scans, and collect young objects less often. Requests allocate many short-lived
    # dicts; frequent young collections showed up as latency tails under load.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)

    async def run() -> None:
        stop = stop_on_signals()
        metrics = APIServerMetrics(CollectorRegistry())
        storage = EtcdStorage(etcd_host, etcd_port, observe=metrics.etcd_request)
        await APIServer(config, storage, metrics=metrics).run(stop)

    uvloop.run(run())


if __name__ == "__main__":
    main()
