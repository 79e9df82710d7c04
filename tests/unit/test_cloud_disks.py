"""The mock cloud's disks: the provisioner's volumes, the attach/detach controller's
VolumeAttachments, the cloud's attacher and the release of an out-of-service node's pods.
Docker stays behind a fake of DockerDisks' methods."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from control_plane.cloud.disk_attacher import FINALIZER, DiskAttacher
from control_plane.cloud.disk_provisioner import DiskProvisioner
from control_plane.cloud.docker_disks import DiskError, DiskInUse, _instant
from control_plane.controllers.node_lifecycle import NodeLifecycleController
from control_plane.controllers.volumes.attach_detach import ATTACHMENTS, AttachDetachController
from ku7s.api import persistent_volumes as pv
from ku7s.api.taints import OUT_OF_SERVICE
from tests.unit.test_controllers import RecordingAPI, feed
from tests.unit.test_persistent_volumes import claim, node

Object = dict[str, Any]

DISK_CLASS = {
    "metadata": {"name": pv.DISK_CLASS},
    "provisioner": pv.DISK_DRIVER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": pv.WAIT_FOR_FIRST_CONSUMER,
}


class FakeDisks:
    def __init__(self, refuse: DiskError | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self._refuse = refuse

    def handle_for(self, volume_name: str) -> str:
        return f"c1-{volume_name}"

    async def create(self, handle: str) -> None:
        self.calls.append(("create", handle))

    async def delete(self, handle: str) -> None:
        self.calls.append(("delete", handle))

    async def attach(self, handle: str, node: str) -> None:
        self.calls.append(("attach", handle, node))
        if self._refuse is not None:
            raise self._refuse

    async def detach(self, handle: str, node: str) -> None:
        self.calls.append(("detach", handle, node))


def disk_volume(name: str = "pvc-1", claim_name: str = "data") -> Object:
    return {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": pv.DISK_CLASS,
            "csi": {"driver": pv.DISK_DRIVER, "volumeHandle": f"c1-{name}"},
            "claimRef": {"namespace": "default", "name": claim_name},
        },
        "status": {"phase": "Bound"},
    }


def bound_claim(name: str = "data", volume_name: str = "pvc-1") -> Object:
    c = claim(name, cls=pv.DISK_CLASS)
    c["spec"]["volumeName"] = volume_name
    c["status"] = {"phase": "Bound"}
    return c


def pod_using(name: str, node_name: str, claim_name: str = "data", **metadata: Any) -> Object:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", **metadata},
        "spec": {
            "nodeName": node_name,
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}],
        },
        "status": {"phase": "Running"},
    }


def ready(n: Object, status: str = "True", taints: list[Object] | None = None) -> Object:
    n["status"]["conditions"] = [{"type": "Ready", "status": status}]
    n["spec"] = {"taints": taints or []}
    return n


def attachment(volume_name: str, node_name: str, **metadata: Any) -> Object:
    handle = f"c1-{volume_name}"
    return {
        "metadata": {"name": pv.attachment_name(handle, pv.DISK_DRIVER, node_name), **metadata},
        "spec": {
            "attacher": pv.DISK_DRIVER,
            "nodeName": node_name,
            "source": {"persistentVolumeName": volume_name},
        },
    }


async def test_the_provisioner_makes_a_disk_and_a_zonal_csi_volume():
    api, disks = RecordingAPI(), FakeDisks()
    provisioner = DiskProvisioner(api, disks)  # type: ignore[arg-type]
    feed(provisioner.classes, DISK_CLASS)
    n1 = node("n1")
    n1["metadata"]["labels"]["topology.kubernetes.io/zone"] = "local-a"
    feed(provisioner.nodes, n1)
    c = claim("data", cls=pv.DISK_CLASS)
    c["metadata"]["annotations"] = {pv.SELECTED_NODE: "n1", pv.STORAGE_PROVISIONER: pv.DISK_DRIVER}
    feed(provisioner.claims, c)
    await provisioner.reconcile("claim:default/data")
    assert disks.calls == [("create", "c1-pvc-uid-data")]
    [(_, _, made)] = [c for c in api.made("create") if c[1] == "/api/v1/persistentvolumes"]
    assert made["spec"]["csi"] == {"driver": pv.DISK_DRIVER, "volumeHandle": "c1-pvc-uid-data"}
    elsewhere = node("n2")
    elsewhere["metadata"]["labels"]["topology.kubernetes.io/zone"] = "local-b"
    ssh = node("n3")
    ssh["metadata"]["labels"]["topology.kubernetes.io/zone"] = "local-a"
    ssh["metadata"]["labels"][pv.UNATTACHABLE_NODE_LABELS[0]] = "ssh"
    assert pv.volume_fits_node(made, node("n1") | {"metadata": n1["metadata"]})
    assert not pv.volume_fits_node(made, elsewhere)
    assert not pv.volume_fits_node(made, ssh)


async def test_the_provisioner_refuses_shared_access_and_deletes_released_disks():
    api, disks = RecordingAPI(), FakeDisks()
    provisioner = DiskProvisioner(api, disks)  # type: ignore[arg-type]
    feed(provisioner.classes, DISK_CLASS)
    feed(provisioner.nodes, node("n1"))
    c = claim("data", cls=pv.DISK_CLASS, accessModes=["ReadWriteMany"])
    c["metadata"]["annotations"] = {pv.SELECTED_NODE: "n1", pv.STORAGE_PROVISIONER: pv.DISK_DRIVER}
    feed(provisioner.claims, c)
    await provisioner.reconcile("claim:default/data")
    await asyncio.sleep(0.01)  # events are sent in the background
    events = [call[2] for call in api.made("create") if call[1].endswith("/events")]
    assert events[-1]["reason"] == "ProvisioningFailed"
    assert "one node at a time" in events[-1]["message"] and disks.calls == []
    released = disk_volume()
    released["metadata"]["annotations"] = {pv.PROVISIONED_BY: pv.DISK_DRIVER}
    released["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    released["status"]["phase"] = "Released"
    feed(provisioner.volumes, released)
    await provisioner.reconcile("volume:pvc-1")
    assert disks.calls == [("delete", "c1-pvc-1")]
    assert ("delete", "/api/v1/persistentvolumes/pvc-1", None) in api.calls


def attach_detach(*pods: Object, nodes: list[Object], attachments: list[Object] = ()):  # type: ignore[assignment]
    api = RecordingAPI()
    controller = AttachDetachController(api)  # type: ignore[arg-type]
    feed(controller.volumes, disk_volume())
    feed(controller.claims, bound_claim())
    feed(controller.nodes, *nodes)
    feed(controller.pods, *pods)
    feed(controller.attachments, *attachments)
    return api, controller


async def test_a_pod_on_a_node_gets_its_disk_attached_there():
    api, controller = attach_detach(pod_using("p", "n1"), nodes=[ready(node("n1"))])
    await controller.reconcile("pvc-1")
    [(_, path, made)] = api.made("create")
    assert path == ATTACHMENTS
    assert made["metadata"]["name"] == pv.attachment_name("c1-pvc-1", pv.DISK_DRIVER, "n1")
    assert made["spec"] == {
        "attacher": pv.DISK_DRIVER,
        "nodeName": "n1",
        "source": {"persistentVolumeName": "pvc-1"},
    }


async def test_a_disk_attached_elsewhere_is_not_attached_twice():
    api, controller = attach_detach(
        pod_using("old", "n1", deletionTimestamp="2026-01-01T00:00:00Z"),
        pod_using("new", "n2"),
        nodes=[ready(node("n1"), "Unknown"), ready(node("n2"))],
        attachments=[attachment("pvc-1", "n1")],
    )
    await controller.reconcile("pvc-1")
    assert not [c for c in api.made("create") if c[1] == ATTACHMENTS]
    assert not api.made("delete")  # the old pod's kubelet may still be using it
    await asyncio.sleep(0.01)
    events = [c[2] for c in api.made("create") if c[1].endswith("/events")]
    assert events and events[0]["reason"] == "FailedAttachVolume"
    assert "Multi-Attach error" in events[0]["message"]


async def test_an_out_of_service_node_lets_its_disks_go_at_once():
    down = ready(node("n1"), "Unknown", [{"key": OUT_OF_SERVICE, "effect": "NoExecute"}])
    api, controller = attach_detach(
        pod_using("old", "n1", deletionTimestamp="2026-01-01T00:00:00Z"),
        pod_using("new", "n2"),
        nodes=[down, ready(node("n2"))],
        attachments=[attachment("pvc-1", "n1")],
    )
    await controller.reconcile("pvc-1")
    [(_, path, _)] = api.made("delete")
    assert path == f"{ATTACHMENTS}/{pv.attachment_name('c1-pvc-1', pv.DISK_DRIVER, 'n1')}"


async def test_a_disk_no_pod_needs_is_detached():
    done = pod_using("job", "n1")
    done["status"]["phase"] = "Succeeded"
    api, controller = attach_detach(
        done, nodes=[ready(node("n1"))], attachments=[attachment("pvc-1", "n1")]
    )
    await controller.reconcile("pvc-1")
    assert len(api.made("delete")) == 1 and not api.made("create")


async def test_the_attacher_attaches_and_reports_then_detaches_before_the_finalizer_goes():
    api, disks = RecordingAPI(), FakeDisks()
    attacher = DiskAttacher(api, disks)  # type: ignore[arg-type]
    feed(attacher.volumes, disk_volume())
    va = attachment("pvc-1", "n1")
    feed(attacher.attachments, va)
    name = va["metadata"]["name"]
    await attacher.reconcile(name)
    assert disks.calls == [("attach", "c1-pvc-1", "n1")]
    [(_, _, finalizer), (_, status_path, status)] = api.made("patch")
    assert finalizer == {"metadata": {"finalizers": [FINALIZER]}}
    assert status_path.endswith("/status") and status["status"]["attached"] is True
    gone = attachment(
        "pvc-1", "n1", deletionTimestamp="2026-01-01T00:00:00Z", finalizers=[FINALIZER, "other"]
    )
    feed(attacher.attachments, gone)
    await attacher.reconcile(name)
    assert disks.calls[-1] == ("detach", "c1-pvc-1", "n1")
    assert api.made("patch")[-1][2] == {"metadata": {"finalizers": ["other"]}}


async def test_a_refused_attach_is_reported_and_retried():
    api = RecordingAPI()
    attacher = DiskAttacher(api, FakeDisks(DiskInUse("disk c1-pvc-1 is attached to node n2")))  # type: ignore[arg-type]
    feed(attacher.volumes, disk_volume())
    va = attachment("pvc-1", "n1", finalizers=[FINALIZER])
    feed(attacher.attachments, va)
    with pytest.raises(DiskInUse):
        await attacher.reconcile(va["metadata"]["name"])
    [(_, _, status)] = api.made("patch")
    assert status["status"]["attached"] is False
    assert status["status"]["attachError"]["message"] == "disk c1-pvc-1 is attached to node n2"


async def test_pods_being_deleted_on_an_out_of_service_node_are_released():
    api = RecordingAPI()
    lifecycle = NodeLifecycleController(api)  # type: ignore[arg-type]
    down = ready(node("n1"), "Unknown", [{"key": OUT_OF_SERVICE, "effect": "NoExecute"}])
    down["spec"]["taints"] += [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "x"},
    ]
    feed(lifecycle.nodes, down)
    feed(lifecycle.pods, pod_using("old", "n1", deletionTimestamp="2026-01-01T00:00:00Z"))
    await lifecycle.reconcile("n1")
    assert ("delete", "/api/v1/namespaces/default/pods/old", {"gracePeriodSeconds": "0"}) in (
        api.calls
    )


def test_docker_times_compare_with_nanoseconds_and_the_zero_time():
    assert _instant("2026-12-07T02:01:00.123456789Z") > _instant("2026-12-07T02:01:00.1Z")
    assert _instant("2026-12-07T02:01:00Z") > _instant("0001-01-01T00:00:00Z")
    assert _instant("") == _instant("0001-01-01T00:00:00Z")
