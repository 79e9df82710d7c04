"""kube-scheduler entry point: ``python -m control_plane.scheduler --kubeconfig F``."""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvloop
from prometheus_client import CollectorRegistry

from control_plane.scheduler.metrics import SchedulerMetrics
from control_plane.scheduler.scheduler import DEFAULT_SCHEDULER_NAME, Scheduler
from ku7s.aio import stop_on_signals
from ku7s.client.rest import APIClient
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS


def main() -> None:
    parser = argparse.ArgumentParser(prog="kube-scheduler")
    parser.add_argument("--kubeconfig", default="/etc/ku7s/scheduler.conf")
    parser.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER_NAME)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        registry = CollectorRegistry()
        metrics = SchedulerMetrics(registry, args.scheduler_name)
        endpoint = MetricsEndpoint({"/metrics": registry}, PORTS["kube-scheduler"])
        async with APIClient.from_kubeconfig_file(args.kubeconfig, timeout=30) as client:
            scheduler = Scheduler(client, name=args.scheduler_name, metrics=metrics)
            await asyncio.gather(scheduler.run(stop), endpoint.run(stop))

    uvloop.run(run())


if __name__ == "__main__":
    main()
