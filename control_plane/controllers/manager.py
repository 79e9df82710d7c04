"""kube-controller-manager as a component: one API client, every controller."""

from __future__ import annotations

import asyncio

from control_plane.controllers.base import Controller, run_all
from control_plane.controllers.daemonset import DaemonSetController
from control_plane.controllers.deployment import DeploymentController
from control_plane.controllers.endpoints import EndpointsController
from control_plane.controllers.endpointslice import EndpointSliceController
from control_plane.controllers.garbage_collector import GarbageCollector
from control_plane.controllers.job import JobController
from control_plane.controllers.namespace import NamespaceController
from control_plane.controllers.node_lifecycle import NodeLifecycleController
from control_plane.controllers.replicaset import ReplicaSetController
from control_plane.controllers.statefulset import StatefulSetController
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient


class ControllerManager:
    def __init__(self, client: APIClient) -> None:
        self._client = client

    def controllers(self) -> list[Controller]:
        """Every controller, sharing one informer per collection."""
        informers = InformerFactory(self._client)
        return [
            NamespaceController(self._client, informers),
            ReplicaSetController(self._client, informers),
            DeploymentController(self._client, informers),
            GarbageCollector(self._client, informers),
            NodeLifecycleController(self._client, informers),
            DaemonSetController(self._client, informers),
            JobController(self._client, informers),
            StatefulSetController(self._client, informers),
            EndpointsController(self._client, informers),
            EndpointSliceController(self._client, informers),
        ]

    async def run(self, stop: asyncio.Event) -> None:
        async with self._client:
            await run_all(self.controllers(), stop)
