"""kube-controller-manager entry point: ``python -m control_plane.controllers --kubeconfig F``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

import uvloop

from control_plane.controllers.manager import ControllerManager
from control_plane.service_account_tokens import ServiceAccountTokens
from control_plane.state_metrics.server import KubeStateMetrics
from ku7s.aio import stop_on_signals
from ku7s.client.rest import APIClient
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS
from ku7s.pki import CertificateAuthority


def main() -> None:
    parser = argparse.ArgumentParser(prog="kube-controller-manager")
    parser.add_argument("--kubeconfig", default="/etc/ku7s/controller-manager.conf")
    parser.add_argument(
        "--service-account-private-key-file",
        type=Path,
        default=Path("/etc/ku7s/pki/sa.key"),
        help="signs the tokens of service-account-token Secrets",
    )
    parser.add_argument("--root-ca-file", type=Path, default=Path("/etc/ku7s/pki/ca.crt"))
    parser.add_argument(
        "--cluster-signing-key-file",
        type=Path,
        default=Path("/etc/ku7s/pki/ca.key"),
        help="with --root-ca-file, signs approved kube-apiserver-client CSRs",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        client = APIClient.from_kubeconfig_file(args.kubeconfig, timeout=30)
        signer = None
        if args.service_account_private_key_file.exists() and args.root_ca_file.exists():
            signer = (
                ServiceAccountTokens(args.service_account_private_key_file.read_bytes()),
                args.root_ca_file.read_text(),
            )
        authority = None
        if args.cluster_signing_key_file.exists() and args.root_ca_file.exists():
            authority = CertificateAuthority.load(
                args.root_ca_file.read_bytes(), args.cluster_signing_key_file.read_bytes()
            )
        manager = ControllerManager(
            client, service_account_tokens=signer, certificate_authority=authority
        )
        endpoint = MetricsEndpoint({"/metrics": manager.registry}, PORTS["kube-controller-manager"])
        state = KubeStateMetrics(manager.informers)  # hosted here: one watch per collection
        await asyncio.gather(manager.run(stop), endpoint.run(stop), state.run(stop))

    uvloop.run(run())


if __name__ == "__main__":
    main()
