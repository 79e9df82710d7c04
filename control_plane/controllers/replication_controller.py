"""The ReplicationController controller: a ReplicaSet controller whose objects select
their pods by a plain label map."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.controllers.replicaset import ReplicaSetController
from ku7s.api import meta

Object = dict[str, Any]


class ReplicationControllerController(ReplicaSetController):
    name: ClassVar[str] = "replicationcontroller"
    owner_kind: ClassVar[str] = "ReplicationController"
    owner_path: ClassVar[str] = "/api/v1/replicationcontrollers"

    def selector(self, rc: Object) -> Object | None:
        labels = (rc.get("spec") or {}).get("selector")
        return {"matchLabels": labels} if labels else None

    def status_path(self, rc: Object) -> str:
        return (
            f"/api/v1/namespaces/{meta.namespace_of(rc)}/replicationcontrollers/{meta.name_of(rc)}"
        )
