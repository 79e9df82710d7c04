"""kube-controller-manager entry point: ``python -m control_plane.controllers --kubeconfig F``."""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvloop

from control_plane.controllers.manager import ControllerManager
from ku7s.aio import stop_on_signals
from ku7s.client.rest import APIClient
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS


def main() -> None:
    parser = argparse.ArgumentParser(prog="kube-controller-manager")
    parser.add_argument("--kubeconfig", default="/etc/ku7s/controller-manager.conf")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        client = APIClient.from_kubeconfig_file(args.kubeconfig, timeout=30)
        manager = ControllerManager(client)
        endpoint = MetricsEndpoint({"/metrics": manager.registry}, PORTS["kube-controller-manager"])
        state = MetricsEndpoint({"/metrics": manager.state_registry}, PORTS["kube-state-metrics"])
        await asyncio.gather(manager.run(stop), endpoint.run(stop), state.run(stop))

    uvloop.run(run())


if __name__ == "__main__":
    main()
