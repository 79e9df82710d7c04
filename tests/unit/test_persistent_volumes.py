"""Persistent volumes: which volume serves which claim, the binder's writes, the local-path
provisioner's volumes, the scheduler's volume binding and the kubelet's sweep."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from control_plane.controllers.statefulset import stateful_claim, stateful_pod
from control_plane.controllers.volumes.binder import PersistentVolumeBinder
from control_plane.controllers.volumes.local_path import LocalPathProvisioner
from control_plane.controllers.volumes.protection import StorageProtectionController
from control_plane.scheduler.framework import NodeInfo, PodInfo
from control_plane.scheduler.plugins.volume_binding import VolumeBinding
from control_plane.scheduler.volume_catalog import VolumeCatalog
from ku7s.api import persistent_volumes as pv
from node_image.kubelet.local_volumes import LocalVolumeSweeper
from tests.unit.test_controllers import RecordingAPI, feed

Object = dict[str, Any]


class BindingAPI(RecordingAPI):
    async def replace(self, path, body):
        self.calls.append(("replace", path, body))
        return body


def claim(name: str, storage: str = "1Gi", cls: str | None = "", **spec: Any) -> Object:
    body: Object = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
        **spec,
    }
    if cls is not None:
        body["storageClassName"] = cls
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": "1",
        },
        "spec": body,
        "status": {"phase": "Pending"},
    }


def volume(name: str, storage: str = "5Gi", cls: str = "", **spec: Any) -> Object:
    return {
        "metadata": {"name": name, "labels": spec.pop("labels", {}), "resourceVersion": "1"},
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": cls,
            "hostPath": {"path": f"/tmp/{name}"},
            **spec,
        },
        "status": {"phase": "Available"},
    }


def node(name: str, disk: str = "100Gi") -> Object:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"ephemeral-storage": disk, "cpu": "2", "memory": "4Gi"}},
    }


def pinned(volume_obj: Object, node_name: str) -> Object:
    volume_obj["spec"]["nodeAffinity"] = {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}
                    ]
                }
            ]
        }
    }
    return volume_obj


STANDARD = {
    "metadata": {"name": "standard"},
    "provisioner": pv.LOCAL_PATH_PROVISIONER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": pv.WAIT_FOR_FIRST_CONSUMER,
}


def test_the_smallest_volume_that_fits_serves_the_claim():
    volumes = [volume("big", "10Gi"), volume("small", "2Gi"), volume("tiny", "500Mi")]
    chosen = pv.best_volume(claim("c", "1Gi"), volumes)
    assert chosen is not None and chosen["metadata"]["name"] == "small"


def test_class_access_modes_selector_and_binding_decide_the_match():
    c = claim("c", selector={"matchLabels": {"tier": "fast"}})
    assert pv.best_volume(c, [volume("slow", labels={"tier": "slow"})]) is None
    assert pv.best_volume(c, [volume("fast", labels={"tier": "fast"})]) is not None
    assert pv.best_volume(claim("c", cls="gold"), [volume("v")]) is None
    many = claim("c", accessModes=["ReadWriteMany"])
    assert pv.best_volume(many, [volume("v")]) is None
    taken = volume("v", claimRef={"namespace": "default", "name": "other", "uid": "u"})
    assert pv.best_volume(claim("c"), [taken]) is None
    # A volume pre-bound to the claim wins over a smaller free one.
    mine = volume("mine", "50Gi", claimRef={"namespace": "default", "name": "c"})
    chosen = pv.best_volume(claim("c"), [volume("free", "2Gi"), mine])
    assert chosen is not None and chosen["metadata"]["name"] == "mine"


def test_a_volume_pinned_to_a_node_serves_only_claims_whose_pod_goes_there():
    local = pinned(volume("local"), "n1")
    assert pv.best_volume(claim("c"), [local], node("n1")) is not None
    assert pv.best_volume(claim("c"), [local], node("n2")) is None


async def test_the_binder_writes_the_volume_first_then_the_claim():
    api = BindingAPI()
    binder = PersistentVolumeBinder(api)  # type: ignore[arg-type]
    c = claim("data")
    feed(binder.claims, c)
    feed(binder.volumes, volume("v1"))
    await binder.reconcile("claim:default/data")
    verbs = [(verb, path.rsplit("/", 1)[-1]) for verb, path, _ in api.calls]
    assert verbs[:4] == [("replace", "v1"), ("patch", "status"), ("replace", "data"),
                         ("patch", "status")]  # fmt: skip
    bound_volume = api.calls[0][2]
    assert bound_volume["spec"]["claimRef"]["uid"] == "uid-data"
    assert api.calls[1][1] == "/api/v1/persistentvolumes/v1/status"
    assert api.calls[2][2]["spec"]["volumeName"] == "v1"
    assert api.calls[3][2]["status"]["phase"] == "Bound"


async def test_a_claim_without_a_class_or_volume_waits_and_says_so():
    api = BindingAPI()
    binder = PersistentVolumeBinder(api)  # type: ignore[arg-type]
    feed(binder.claims, claim("lonely"))
    await binder.reconcile("claim:default/lonely")
    await asyncio.sleep(0.01)
    assert not [c for c in api.calls if c[0] == "replace"]
    events = [c[2] for c in api.calls if c[0] == "create" and c[1].endswith("/events")]
    assert events and events[0]["reason"] == "FailedBinding"
    assert "no storage class is set" in events[0]["message"]


async def test_a_wait_for_first_consumer_claim_goes_to_the_provisioner_once_a_node_is_named():
    api = BindingAPI()
    binder = PersistentVolumeBinder(api)  # type: ignore[arg-type]
    feed(binder.classes, STANDARD)
    c = claim("data", cls="standard")
    feed(binder.claims, c)
    await binder.reconcile("claim:default/data")
    assert not api.made("patch")  # no node yet: nothing to provision
    c["metadata"]["annotations"] = {pv.SELECTED_NODE: "n1"}
    feed(binder.claims, c)
    await binder.reconcile("claim:default/data")
    [(_, _, patch)] = api.made("patch")
    assert patch["metadata"]["annotations"][pv.STORAGE_PROVISIONER] == pv.LOCAL_PATH_PROVISIONER


async def test_a_volume_whose_claim_is_gone_is_released():
    api = BindingAPI()
    binder = PersistentVolumeBinder(api)  # type: ignore[arg-type]
    gone = volume("v1", claimRef={"namespace": "default", "name": "data", "uid": "uid-data"})
    gone["status"]["phase"] = "Bound"
    feed(binder.volumes, gone)
    await binder.reconcile("volume:v1")
    [(_, path, patch)] = api.made("patch")
    assert path.endswith("/v1/status") and patch["status"]["phase"] == "Released"


async def test_the_provisioner_makes_a_directory_volume_on_the_chosen_node():
    api = BindingAPI()
    provisioner = LocalPathProvisioner(api)  # type: ignore[arg-type]
    feed(provisioner.classes, STANDARD)
    feed(provisioner.nodes, node("n1"))
    c = claim("data", cls="standard")
    c["metadata"]["annotations"] = {
        pv.SELECTED_NODE: "n1",
        pv.STORAGE_PROVISIONER: pv.LOCAL_PATH_PROVISIONER,
    }
    feed(provisioner.claims, c)
    await provisioner.reconcile("claim:default/data")
    [(_, path, made)] = [call for call in api.made("create") if "/events" not in call[1]]
    assert path == "/api/v1/persistentvolumes"
    assert made["metadata"]["name"] == "pvc-uid-data"
    assert made["spec"]["claimRef"]["uid"] == "uid-data"
    assert made["spec"]["hostPath"]["path"] == (f"{pv.LOCAL_PATH_ROOT}/pvc-uid-data_default_data")
    assert pv.volume_fits_node(made, node("n1")) and not pv.volume_fits_node(made, node("n2"))


async def test_the_provisioner_refuses_a_claim_bigger_than_the_node_disk():
    api = BindingAPI()
    provisioner = LocalPathProvisioner(api)  # type: ignore[arg-type]
    feed(provisioner.classes, STANDARD)
    feed(provisioner.nodes, node("n1", disk="10Gi"))
    c = claim("data", "20Gi", cls="standard")
    c["metadata"]["annotations"] = {
        pv.SELECTED_NODE: "n1",
        pv.STORAGE_PROVISIONER: pv.LOCAL_PATH_PROVISIONER,
    }
    feed(provisioner.claims, c)
    await provisioner.reconcile("claim:default/data")
    await asyncio.sleep(0.01)
    assert not [call for call in api.made("create") if call[1] == "/api/v1/persistentvolumes"]
    events = [call[2] for call in api.made("create") if call[1].endswith("/events")]
    assert [e["reason"] for e in events] == ["Provisioning", "ProvisioningFailed"]


async def test_a_claim_in_use_keeps_its_finalizer_until_its_pod_is_gone():
    api = BindingAPI()
    protection = StorageProtectionController(api)  # type: ignore[arg-type]
    c = claim("data")
    c["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", finalizers=[pv.CLAIM_PROTECTION])
    pod = {
        "metadata": {"name": "p", "namespace": "default", "uid": "p1"},
        "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
        "status": {"phase": "Running"},
    }
    feed(protection.claims, c)
    feed(protection.pods, pod)
    await protection.reconcile("claim:default/data")
    assert not api.made("patch")
    protection.pods._apply("DELETED", pod)
    await protection.reconcile("claim:default/data")
    [(_, _, patch)] = api.made("patch")
    assert patch["metadata"]["finalizers"] == []


def _binding_plugin() -> tuple[VolumeBinding, VolumeCatalog]:
    catalog = VolumeCatalog(BindingAPI())  # type: ignore[arg-type]
    feed(catalog.classes, STANDARD)
    return VolumeBinding(catalog), catalog


def _pod_with(claim_name: str) -> PodInfo:
    return PodInfo.of(
        {
            "metadata": {"name": "p", "namespace": "default", "uid": "p1"},
            "spec": {
                "containers": [{"name": "c"}],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}],
            },
        }
    )


def test_volume_binding_sends_a_pod_to_the_node_of_its_volume():
    plugin, catalog = _binding_plugin()
    c = claim("data", cls="standard")
    c["spec"]["volumeName"] = "v1"
    feed(catalog.claims, c)
    feed(catalog.volumes, pinned(volume("v1", cls="standard"), "n1"))
    pod = _pod_with("data")
    assert plugin.filter(pod, NodeInfo(node("n1"))) == []
    assert plugin.filter(pod, NodeInfo(node("n2"))) == ["node(s) had volume node affinity conflict"]


def test_volume_binding_says_why_a_claim_cannot_be_used():
    plugin, catalog = _binding_plugin()
    n1 = NodeInfo(node("n1", disk="10Gi"))
    assert plugin.filter(_pod_with("missing"), n1) == ['persistentvolumeclaim "missing" not found']
    feed(catalog.claims, claim("immediate", cls=""))
    assert plugin.filter(_pod_with("immediate"), n1) == [
        "pod has unbound immediate PersistentVolumeClaims"
    ]
    feed(catalog.claims, claim("huge", "1Ti", cls="standard"))
    assert plugin.filter(_pod_with("huge"), n1) == ["node(s) did not have enough free storage"]
    feed(catalog.claims, claim("fine", "1Gi", cls="standard"))
    assert plugin.filter(_pod_with("fine"), n1) == []
    assert n1.allocatable["ephemeral-storage"] == Decimal(10 * 1024**3)


async def test_pre_bind_names_the_node_and_waits_for_the_binder():
    api = BindingAPI()
    catalog = VolumeCatalog(api)  # type: ignore[arg-type]
    plugin = VolumeBinding(catalog)
    c = claim("data", cls="standard")
    feed(catalog.claims, c)
    pod = _pod_with("data").pod
    waiting = asyncio.create_task(plugin.pre_bind(api, pod, "n1"))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    [(_, path, patch)] = api.made("patch")
    assert path.endswith("/persistentvolumeclaims/data")
    assert patch["metadata"]["annotations"][pv.SELECTED_NODE] == "n1"
    assert not waiting.done()
    bound = {**c, "spec": {**c["spec"], "volumeName": "v1"}, "status": {"phase": "Bound"}}
    catalog.claims._apply("MODIFIED", bound)
    await asyncio.wait_for(waiting, 1)


def test_stateful_pods_get_one_claim_per_template_that_outlives_the_set():
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "uid": "s1"},
        "spec": {
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}},
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
        },
    }
    pod = stateful_pod(sts, 1, "rev")
    assert pod["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}}
    ]
    made = stateful_claim(sts, sts["spec"]["volumeClaimTemplates"][0], 1)
    assert made["metadata"]["name"] == "data-db-1"
    assert made["metadata"]["labels"] == {"app": "db"}
    assert "ownerReferences" not in made["metadata"]
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete"}
    owned = stateful_claim(sts, sts["spec"]["volumeClaimTemplates"][0], 1)
    assert owned["metadata"]["ownerReferences"][0]["uid"] == "s1"


class _Volumes:
    def __init__(self, existing: set[str]) -> None:
        self.existing = existing

    async def get(self, resource: str, namespace: str, name: str) -> Object | None:
        assert resource == "persistentvolumes"
        return {"metadata": {"name": name}} if name in self.existing else None

    async def list(self, resource: str, namespace: str) -> list[Object]:
        return []


async def test_the_kubelet_frees_the_directories_of_deleted_volumes(tmp_path: Path):
    a, b = f"pvc-{'a' * 8}-0000-0000-0000-{'0' * 12}", f"pvc-{'b' * 8}-0000-0000-0000-{'0' * 12}"
    (tmp_path / f"{a}_default_data-a").mkdir()
    (tmp_path / f"{b}_default_data-b").mkdir()
    (tmp_path / f"{b}_default_data-b" / "file").write_text("kept")
    (tmp_path / "made-by-hand").mkdir()  # not the provisioner's: left alone
    sweeper = LocalVolumeSweeper(tmp_path, _Volumes({b}))
    assert await sweeper.sweep() == [f"{a}_default_data-a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made-by-hand", f"{b}_default_data-b"]


def test_an_ephemeral_volume_gets_a_claim_owned_by_its_pod():
    from control_plane.controllers.volumes.ephemeral import ephemeral_claims

    pod = {
        "metadata": {"name": "p", "namespace": "default", "uid": "p1"},
        "spec": {
            "volumes": [
                {"name": "cache", "ephemeral": {"volumeClaimTemplate": {
                    "metadata": {"labels": {"type": "scratch"}},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}},
                }}},
                {"name": "named", "persistentVolumeClaim": {"claimName": "data"}},
            ]
        },
    }  # fmt: skip
    assert pv.pod_claim_names(pod) == ["p-cache", "data"]
    [made] = ephemeral_claims(pod)
    assert made["metadata"]["name"] == "p-cache"
    assert made["metadata"]["labels"] == {"type": "scratch"}
    [owner] = made["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Pod", "p1", True)


async def test_the_provisioner_grows_a_bound_claim_that_asks_for_more():
    api = BindingAPI()
    provisioner = LocalPathProvisioner(api)  # type: ignore[arg-type]
    c = claim("data", "2Gi", cls="standard")
    c["metadata"]["annotations"] = {pv.STORAGE_PROVISIONER: pv.LOCAL_PATH_PROVISIONER}
    c["spec"]["volumeName"] = "pvc-uid-data"
    c["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}}
    feed(provisioner.claims, c)
    feed(provisioner.volumes, volume("pvc-uid-data", "1Gi", cls="standard"))
    await provisioner.reconcile("claim:default/data")
    [(_, volume_path, grown), (_, claim_path, status)] = api.made("patch")
    assert volume_path == "/api/v1/persistentvolumes/pvc-uid-data"
    assert grown == {"spec": {"capacity": {"storage": "2Gi"}}}
    assert claim_path.endswith("/persistentvolumeclaims/data/status")
    assert status == {"status": {"capacity": {"storage": "2Gi"}}}


def test_claims_marked_read_only_and_the_kubelets_file_volumes_mount_read_only():
    from node_image.kubelet.container_config import ContainerFiles, mounts, read_only_volumes

    spec = {
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "d", "readOnly": True}},
            {"name": "scratch", "persistentVolumeClaim": {"claimName": "s"}},
            {"name": "config", "configMap": {"name": "c"}},
        ]
    }
    assert read_only_volumes(spec) == {"data", "config"}
    container = {
        "volumeMounts": [{"name": n, "mountPath": f"/{n}"} for n in ("data", "scratch", "config")]
    }
    paths = {n: Path(f"/v/{n}") for n in ("data", "scratch", "config")}
    made = mounts(container, paths, ContainerFiles(None, Path("/t")), read_only_volumes(spec))
    assert {
        m.container_path: m.readonly for m in made if m.container_path != "/dev/termination-log"
    } == {"/data": True, "/scratch": False, "/config": True}
