"""The kinds the apiserver serves, each in its own module, and their lookup table.

Discovery, routing, storage keys, defaults, validation and printing all follow from the
entries here; adding a kind is one module and one line in ``builtin_kinds``.
"""

from __future__ import annotations

from collections.abc import Iterable

from control_plane.apiserver.kinds.admission_policy import (
    ValidatingAdmissionPolicyBindingKind,
    ValidatingAdmissionPolicyKind,
)
from control_plane.apiserver.kinds.admission_registration import (
    MutatingWebhookConfigurationKind,
    ValidatingWebhookConfigurationKind,
)
from control_plane.apiserver.kinds.api_service import APIServiceKind
from control_plane.apiserver.kinds.apps import (
    DaemonSetKind,
    DeploymentKind,
    ReplicaSetKind,
    StatefulSetKind,
)
from control_plane.apiserver.kinds.autoscaler import (
    HorizontalPodAutoscalerKind,
    HorizontalPodAutoscalerV1Kind,
)
from control_plane.apiserver.kinds.base import Kind
from control_plane.apiserver.kinds.certificate_signing_request import (
    CertificateSigningRequestKind,
)
from control_plane.apiserver.kinds.configmap import ConfigMapKind
from control_plane.apiserver.kinds.cron_job import CronJobKind
from control_plane.apiserver.kinds.custom_resource_definition import (
    CustomResourceDefinitionKind,
)
from control_plane.apiserver.kinds.disruption_budget import PodDisruptionBudgetKind
from control_plane.apiserver.kinds.endpoints import EndpointsKind, EndpointSliceKind
from control_plane.apiserver.kinds.event import EventKind, EventsV1Kind
from control_plane.apiserver.kinds.job import JobKind
from control_plane.apiserver.kinds.lease import LeaseKind
from control_plane.apiserver.kinds.metrics import NodeMetricsKind, PodMetricsKind
from control_plane.apiserver.kinds.namespace import NamespaceKind
from control_plane.apiserver.kinds.networking import (
    IngressClassKind,
    IngressKind,
    NetworkPolicyKind,
)
from control_plane.apiserver.kinds.node import NodeKind
from control_plane.apiserver.kinds.pod import (
    DEFAULT_TOLERATION_SECONDS,
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    PodKind,
)
from control_plane.apiserver.kinds.pod_template import ControllerRevisionKind, PodTemplateKind
from control_plane.apiserver.kinds.priority_class import PriorityClassKind
from control_plane.apiserver.kinds.rbac import (
    ClusterRoleBindingKind,
    ClusterRoleKind,
    RoleBindingKind,
    RoleKind,
)
from control_plane.apiserver.kinds.replication_controller import ReplicationControllerKind
from control_plane.apiserver.kinds.resource_quota import LimitRangeKind, ResourceQuotaKind
from control_plane.apiserver.kinds.reviews import REVIEW_KINDS
from control_plane.apiserver.kinds.runtime_class import RuntimeClassKind
from control_plane.apiserver.kinds.secret import SecretKind
from control_plane.apiserver.kinds.service import ServiceAllocations, ServiceKind
from control_plane.apiserver.kinds.serviceaccount import ServiceAccountKind
from control_plane.apiserver.kinds.storage import (
    CSIDriverKind,
    CSINodeKind,
    PersistentVolumeClaimKind,
    PersistentVolumeKind,
    StorageClassKind,
    VolumeAttachmentKind,
)


class Kinds:
    """Lookup by group, version and plural, in the order discovery lists them."""

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self._kinds = tuple(kinds)
        self._by_path = {_path(k): k for k in self._kinds}
        #: Grows with every change of what is served (documents derived from it are cached).
        self.generation = 0

    def serve(self, owner: str, kinds: Iterable[Kind]) -> None:
        """Serve `kinds` on behalf of `owner` (a CRD's name), replacing what it served."""
        added = tuple(kinds)
        self._kinds = tuple(k for k in self._kinds if getattr(k, "crd_name", None) != owner) + added
        self._by_path = {_path(k): k for k in self._kinds}
        self.generation += 1

    def withdraw(self, owner: str) -> None:
        """Stop serving what `owner` made served."""
        self.serve(owner, ())

    def all(self) -> tuple[Kind, ...]:
        return self._kinds

    def lookup(self, group: str, version: str, plural: str) -> Kind | None:
        return self._by_path.get((group, version, plural))

    def get(self, plural: str, group: str = "", version: str = "v1") -> Kind:
        kind = self.lookup(group, version, plural)
        if kind is None:
            raise KeyError(f"{group}/{version}/{plural}")
        return kind

    def group_versions(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, in the order kinds were declared."""
        groups: dict[str, list[str]] = {}
        for k in self._kinds:
            group, version = k.resource.group, k.resource.version
            if group and version not in groups.setdefault(group, []):
                groups[group].append(version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[Kind]:
        return [
            k for k in self._kinds if k.resource.group == group and k.resource.version == version
        ]

    def namespaced(self) -> list[Kind]:
        """One kind per storage prefix: what a namespace holds."""
        seen: set[str] = set()
        result = []
        for k in self._kinds:
            if not k.stored:
                continue
            if k.resource.namespaced and k.resource.storage_prefix not in seen:
                seen.add(k.resource.storage_prefix)
                result.append(k)
        return result


def _path(kind: Kind) -> tuple[str, str, str]:
    return (kind.resource.group, kind.resource.version, kind.resource.plural)


def builtin_kinds(
    allocations: ServiceAllocations | None = None,
    *,
    not_ready_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS,
    unreachable_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS,
    root_ca_pem: str = "",
) -> Kinds:
    return Kinds(
        [
            NamespaceKind(root_ca_pem),
            NodeKind(),
            PodKind(
                {
                    NOT_READY_TAINT: not_ready_toleration_seconds,
                    UNREACHABLE_TAINT: unreachable_toleration_seconds,
                }
            ),
            ServiceKind(allocations),
            EndpointsKind(),
            ConfigMapKind(),
            SecretKind(),
            ServiceAccountKind(),
            EventKind(),
            ReplicationControllerKind(),
            PodTemplateKind(),
            ResourceQuotaKind(),
            LimitRangeKind(),
            PersistentVolumeKind(),
            PersistentVolumeClaimKind(),
            DeploymentKind(),
            ReplicaSetKind(),
            DaemonSetKind(),
            StatefulSetKind(),
            ControllerRevisionKind(),
            HorizontalPodAutoscalerKind(),
            HorizontalPodAutoscalerV1Kind(),
            JobKind(),
            CronJobKind(),
            CertificateSigningRequestKind(),
            IngressClassKind(),
            IngressKind(),
            NetworkPolicyKind(),
            PodDisruptionBudgetKind(),
            StorageClassKind(),
            CSIDriverKind(),
            CSINodeKind(),
            VolumeAttachmentKind(),
            PriorityClassKind(),
            RuntimeClassKind(),
            LeaseKind(),
            EndpointSliceKind(),
            EventsV1Kind(),
            NodeMetricsKind(),
            PodMetricsKind(),
            ClusterRoleKind(),
            ClusterRoleBindingKind(),
            RoleKind(),
            RoleBindingKind(),
            *(review() for review in REVIEW_KINDS),
            CustomResourceDefinitionKind(),
            ValidatingWebhookConfigurationKind(),
            MutatingWebhookConfigurationKind(),
            ValidatingAdmissionPolicyKind(),
            ValidatingAdmissionPolicyBindingKind(),
            APIServiceKind(),
        ]
    )


__all__ = ["Kind", "Kinds", "builtin_kinds"]
