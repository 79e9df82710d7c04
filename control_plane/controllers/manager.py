"""kube-controller-manager as a component: one API client, every controller, and their
metrics on one registry."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from control_plane.controllers.certificates.signer import CSRSigningController
from control_plane.controllers.clusterrole_aggregation import ClusterRoleAggregationController
from control_plane.controllers.cronjob import CronJobController
from control_plane.controllers.daemonset import DaemonSetController
from control_plane.controllers.deployment import DeploymentController
from control_plane.controllers.disruption import DisruptionController
from control_plane.controllers.endpoints import EndpointsController
from control_plane.controllers.endpointslice import EndpointSliceController
from control_plane.controllers.garbage_collector import GarbageCollector
from control_plane.controllers.ingress.controller import IngressController
from control_plane.controllers.job import JobController
from control_plane.controllers.namespace import NamespaceController
from control_plane.controllers.node_lifecycle import NodeLifecycleController
from control_plane.controllers.node_lifecycle_metrics import NodeCollectorMetrics
from control_plane.controllers.podautoscaler.horizontal import HorizontalPodAutoscalerController
from control_plane.controllers.replicaset import ReplicaSetController
from control_plane.controllers.replication_controller import ReplicationControllerController
from control_plane.controllers.resource_quota import ResourceQuotaController
from control_plane.controllers.serviceaccount_tokens import ServiceAccountTokenController
from control_plane.controllers.statefulset import StatefulSetController
from control_plane.controllers.volumes.attach_detach import AttachDetachController
from control_plane.controllers.volumes.binder import PersistentVolumeBinder
from control_plane.controllers.volumes.ephemeral import EphemeralVolumeController
from control_plane.controllers.volumes.local_path import LocalPathProvisioner
from control_plane.controllers.volumes.protection import StorageProtectionController
from control_plane.service_account_tokens import ServiceAccountTokens
from control_plane.state_metrics.chaos_faults import ChaosFaultMetrics
from ku7s.client.controller import Controller, run_all
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient
from ku7s.metrics.workqueue import WorkqueueMetrics
from ku7s.pki import CertificateAuthority

#: Upstream's queue names, where ours differ from the controller's name.
QUEUE_NAMES = {
    "endpoints-controller": "endpoint",
    "endpointslice-controller": "endpoint_slice",
    "garbage-collector": "garbage_collector_attempt_to_delete",
    "node-lifecycle": "node_lifecycle_controller",
    "replicationcontroller": "replicationmanager",
    "resourcequota": "resource_quota_controller_resource_changes",
    "horizontalpodautoscaler": "horizontalpodautoscaler",
    "persistentvolume-binder": "volumes",
    "storage-protection": "pvcprotection",
    "ephemeral-volume": "ephemeral_volume",
}


class ControllerManager:
    def __init__(
        self,
        client: APIClient,
        registry: CollectorRegistry | None = None,
        service_account_tokens: tuple[ServiceAccountTokens, str] | None = None,
        certificate_authority: CertificateAuthority | None = None,
    ) -> None:
        """service_account_tokens: the signer of legacy token Secrets, and the CA they hold;
        certificate_authority: the cluster CA, which signs approved client CSRs."""
        self._certificate_authority = certificate_authority
        self._client = client
        self._service_account_tokens = service_account_tokens
        #: One informer per collection, shared with whatever else runs in the process.
        self.informers = InformerFactory(client)
        self.registry = registry or CollectorRegistry()
        self._queues = WorkqueueMetrics(self.registry)
        self._node_metrics = NodeCollectorMetrics(self.registry)
        self.chaos_faults = ChaosFaultMetrics(client, self.registry)

    def controllers(self) -> list[Controller]:
        """Every controller, sharing one informer per collection."""
        informers = self.informers
        controllers: list[Controller] = [
            NamespaceController(self._client, informers),
            ReplicaSetController(self._client, informers),
            ReplicationControllerController(self._client, informers),
            DeploymentController(self._client, informers),
            GarbageCollector(self._client, informers),
            NodeLifecycleController(self._client, informers, metrics=self._node_metrics),
            DaemonSetController(self._client, informers),
            JobController(self._client, informers),
            CronJobController(self._client, informers),
            DisruptionController(self._client, informers),
            ResourceQuotaController(self._client, informers),
            HorizontalPodAutoscalerController(self._client, informers),
            StatefulSetController(self._client, informers),
            EndpointsController(self._client, informers),
            EndpointSliceController(self._client, informers),
            ClusterRoleAggregationController(self._client, informers),
            PersistentVolumeBinder(self._client, informers),
            LocalPathProvisioner(self._client, informers),
            AttachDetachController(self._client, informers),
            StorageProtectionController(self._client, informers),
            EphemeralVolumeController(self._client, informers),
            IngressController(self._client, informers),
        ]
        if self._service_account_tokens is not None:
            controllers.append(
                ServiceAccountTokenController(
                    self._client, informers, *self._service_account_tokens
                )
            )
        if self._certificate_authority is not None:
            controllers.append(
                CSRSigningController(self._client, informers, self._certificate_authority)
            )
        for controller in controllers:
            name = QUEUE_NAMES.get(controller.name, controller.name)
            controller.queue.observe(self._queues.queue(name))
        return controllers

    async def run(self, stop: asyncio.Event) -> None:
        async with self._client, asyncio.TaskGroup() as group:
            group.create_task(self.chaos_faults.run(stop))
            await run_all(self.controllers(), stop)
