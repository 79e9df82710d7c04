"""cloud-controller-manager entry point: ``python -m control_plane.cloud --kubeconfig F``.

Its cloud is the Docker engine that runs the cluster, reached through the socket mounted
into the control-plane container.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvloop
from prometheus_client import CollectorRegistry

from control_plane.cloud.disk_attacher import DiskAttacher
from control_plane.cloud.disk_provisioner import DiskProvisioner
from control_plane.cloud.docker_cloud import DockerCloud
from control_plane.cloud.docker_disks import DockerDisks
from control_plane.cloud.node_controller import CloudNodeController, Topology
from control_plane.cloud.service_controller import CloudServiceController
from control_plane.container import own_address
from ku7s.aio import stop_on_signals
from ku7s.client.controller import run_all
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS
from ku7s.metrics.workqueue import WorkqueueMetrics
from ku7s.names import control_plane_name
from ku7s.pod_network.routes import PodRoutes, docker_hosts_informer, node_plan


def main() -> None:
    parser = argparse.ArgumentParser(prog="cloud-controller-manager")
    parser.add_argument("--kubeconfig", default="/etc/ku7s/cloud-controller-manager.conf")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--region", default="local")
    parser.add_argument("--zones", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        cloud = DockerCloud.connect(args.cluster)
        topology = Topology(args.cluster, args.region, args.zones)
        async with APIClient.from_kubeconfig_file(args.kubeconfig, timeout=30) as client:
            informers = InformerFactory(client)
            disks = DockerDisks(cloud.client, args.cluster, cloud.own_image)
            controllers = [
                CloudNodeController(client, cloud, topology, informers),
                CloudServiceController(client, cloud, informers),
                DiskProvisioner(client, disks, informers),
                DiskAttacher(client, disks, informers),
            ]
            registry = CollectorRegistry()
            queues = WorkqueueMetrics(registry)
            names = ("cloud-node", "service", "disk-provisioner", "disk-attacher")
            for controller, queue in zip(controllers, names, strict=True):
                controller.queue.observe(queues.queue(queue))
            endpoint = MetricsEndpoint({"/metrics": registry}, PORTS["cloud-controller-manager"])
            # The control plane's own routes to nodes and pods on other Docker hosts.
            docker_hosts = docker_hosts_informer(client)
            routes = PodRoutes(
                informers.informer("/api/v1/nodes"),
                node_plan(control_plane_name(args.cluster), own_address()),
                docker_hosts=docker_hosts,
            )
            await asyncio.gather(
                run_all(list(controllers), stop),
                endpoint.run(stop),
                docker_hosts.run(stop),
                routes.run(stop),
            )

    uvloop.run(run())


if __name__ == "__main__":
    main()
