"""Hollow nodes' process: ``python -m node_image.hollow --prefix NAME- --first K --count N``
runs nodes NAME-K ... NAME-(K+N-1) in one asyncio loop. The cluster's settings come from
the environment, as a node container's kubelet gets them (KU7S_CONTROL_PLANE,
KU7S_BOOTSTRAP_TOKEN, KU7S_CA_FILE, KU7S_CLUSTER)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import socket
from pathlib import Path

import uvloop

from ku7s.aio import stop_on_signals, wait_any
from ku7s.names import HOLLOW_NODE_LABEL, cluster_from_env
from node_image.hollow import control
from node_image.hollow.node import HollowNode, HollowSettings
from node_image.hollow.pod_life import Defaults, parse_seconds
from node_image.kubelet.__main__ import parse_labels
from node_image.kubelet.kubelet import ControlPlaneEndpoint
from node_image.kubelet.node_info import internal_ip

#: How many nodes join at once (each join is a certificate the control plane signs).
JOINS_AT_ONCE = 20


def parse_capacity(text: str) -> dict[str, str]:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    capacity.update(parse_labels(text))
    return capacity


def main() -> None:
    parser = argparse.ArgumentParser(prog="hollow-nodes")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--capacity", default="")
    parser.add_argument("--labels", default="")
    parser.add_argument("--untainted", action="store_true")
    parser.add_argument("--start-delay", default="1s")
    parser.add_argument("--job-run-time", default="5s")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    env = dict(os.environ)
    cluster = cluster_from_env(env)
    endpoint = ControlPlaneEndpoint(env["KU7S_CONTROL_PLANE"])
    ca_pem = Path(env.get("KU7S_CA_FILE", "/etc/ku7s/pki/ca.crt")).read_bytes()
    address = env.get("KU7S_NODE_IP") or internal_ip(socket.gethostname())
    taints = [] if args.untainted else [(HOLLOW_NODE_LABEL, "true", "NoSchedule")]
    defaults = Defaults(
        start_delay=parse_seconds(args.start_delay, "--start-delay"),
        job_run_time=parse_seconds(args.job_run_time, "--job-run-time"),
    )
    nodes = {
        name: HollowNode(
            HollowSettings(
                name,
                cluster,
                address,
                parse_capacity(args.capacity),
                parse_labels(args.labels),
                list(taints),
                defaults,
            ),
            endpoint,
            env.get("KU7S_BOOTSTRAP_TOKEN", ""),
            ca_pem,
            rng=random.Random(name),
        )
        for name in (f"{args.prefix}{i}" for i in range(args.first, args.first + args.count))
    }

    async def run() -> None:
        stop = stop_on_signals()
        joining = asyncio.Semaphore(JOINS_AT_ONCE)

        async def one(node: HollowNode) -> None:
            async with joining:
                task = asyncio.create_task(node.run(stop))
                await wait_any(node.registered, stop, timeout=60)
            await task

        await asyncio.gather(control.serve(nodes, stop), *(one(n) for n in nodes.values()))

    uvloop.run(run())


if __name__ == "__main__":
    main()
