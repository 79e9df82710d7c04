"""kube-state-metrics alone: ``python -m control_plane.state_metrics --kubeconfig F``."""

from __future__ import annotations

import argparse
import logging

import uvloop

from control_plane.state_metrics.server import KubeStateMetrics
from ku7s.aio import stop_on_signals
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient


def main() -> None:
    parser = argparse.ArgumentParser(prog="kube-state-metrics")
    parser.add_argument("--kubeconfig", default="/etc/ku7s/controller-manager.conf")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        client = APIClient.from_kubeconfig_file(args.kubeconfig, timeout=30)
        async with client:
            await KubeStateMetrics(InformerFactory(client)).run(stop)

    uvloop.run(run())


if __name__ == "__main__":
    main()
