"""Persistent volumes on real nodes: the default class `standard` provisions a directory
on the pod's node, a StatefulSet's pods find their data again after deletion, deleting a
claim frees the disk (and waits while a pod uses it), static volumes bind by selector and
are Released under Retain, and claims that can never bind say why. The mock cloud's disks
(class `ku7s-disk`) are Docker volumes attached where their pod runs, grow, fail under
`ku7s chaos detach-volume` and come back with its revert."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ku7s.api.persistent_volumes import LOCAL_PATH_ROOT
from tests.e2e.conftest import Cluster, unique


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("vol") as name:
        yield name


def apply(cluster: Cluster, ns: str, manifest: str, tmp_path: Path) -> None:
    path = tmp_path / f"{unique('m')}.yaml"
    path.write_text(textwrap.dedent(manifest))
    cluster.kubectl("apply", "-n", ns, "-f", str(path))


def node_directories(node: str) -> list[str]:
    """What the node holds under the local-path root (a real `ls` in its container)."""
    result = subprocess.run(
        ["docker", "exec", node, "ls", "-1", LOCAL_PATH_ROOT],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return result.stdout.split()


def events_of(cluster: Cluster, ns: str, name: str) -> list[dict]:
    return cluster.get_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")[
        "items"
    ]


STATEFUL = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "hostname >> /data/boots; sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data, labels: {kept: "yes"}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 100Mi}}
"""


def test_a_stateful_set_keeps_its_data_across_pod_deletion_and_frees_it_with_its_claims(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(cluster, ns, STATEFUL, tmp_path)
    cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=90s", timeout=100)
    claims = cluster.get_json("pvc", "-n", ns)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    for claim in claims:
        assert claim["status"]["phase"] == "Bound"
        assert claim["spec"]["storageClassName"] == "standard"  # the default class
        assert claim["metadata"]["labels"] == {"kept": "yes", "app": "db"}
    volume_name = next(
        c["spec"]["volumeName"] for c in claims if c["metadata"]["name"] == "data-db-0"
    )
    volume = cluster.get_json("pv", volume_name)
    assert volume["spec"]["claimRef"]["name"] == "data-db-0"
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    pod = cluster.get_json("pod", "db-0", "-n", ns)
    node = pod["spec"]["nodeName"]
    pinned = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert pinned["matchExpressions"][0]["values"] == [node]
    directory = volume["spec"]["hostPath"]["path"].rsplit("/", 1)[-1]
    assert directory in node_directories(node)

    # The pod is deleted and made again: same node, same data.
    old_uid = pod["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "db-0", "-n", ns, "--wait=false")

    def replaced_and_ready() -> bool:
        new = cluster.get_json("pod", "db-0", "-n", ns)
        conditions = {c["type"]: c["status"] for c in new["status"].get("conditions", [])}
        return new["metadata"]["uid"] != old_uid and conditions.get("Ready") == "True"

    cluster.wait_for(replaced_and_ready, 60, interval=0.5, what="db-0 made again")
    assert cluster.get_json("pod", "db-0", "-n", ns)["spec"]["nodeName"] == node
    boots = cluster.kubectl("exec", "db-0", "-n", ns, "--", "cat", "/data/boots").stdout.split()
    assert boots == ["db-0", "db-0"]

    # A claim in use waits for its pod; once the set is gone, the disk is freed.
    cluster.kubectl("delete", "pvc", "data-db-0", "-n", ns, "--wait=false")
    claim = cluster.get_json("pvc", "data-db-0", "-n", ns)
    assert claim["metadata"]["deletionTimestamp"]
    assert "Terminating" in cluster.kubectl("get", "pvc", "data-db-0", "-n", ns).stdout
    cluster.kubectl("delete", "statefulset", "db", "-n", ns)
    cluster.kubectl("delete", "pvc", "--all", "-n", ns, "--timeout=60s", timeout=70)

    def freed() -> bool:
        gone = cluster.kubectl("get", "pv", volume_name, check=False).returncode != 0
        return gone and directory not in node_directories(node)

    cluster.wait_for(freed, 60, interval=0.5, what="the volume and its directory to go")


def test_a_static_volume_binds_by_selector_and_is_released_under_retain(
    cluster: Cluster, ns: str, tmp_path: Path
):
    name = unique("static")
    apply(
        cluster,
        ns,
        f"""
        apiVersion: v1
        kind: PersistentVolume
        metadata: {{name: {name}, labels: {{tier: {name}}}}}
        spec:
          capacity: {{storage: 2Gi}}
          accessModes: [ReadWriteOnce, ReadOnlyMany]
          storageClassName: manual
          hostPath: {{path: /tmp/{name}, type: DirectoryOrCreate}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: mine}}
        spec:
          storageClassName: manual
          selector: {{matchLabels: {{tier: {name}}}}}
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 1Gi}}}}
        """,
        tmp_path,
    )
    try:

        def bound() -> bool:
            return cluster.get_json("pvc", "mine", "-n", ns)["status"].get("phase") == "Bound"

        cluster.wait_for(bound, 30, interval=0.3, what="the claim bound")
        claim = cluster.get_json("pvc", "mine", "-n", ns)
        assert claim["spec"]["volumeName"] == name
        assert claim["status"]["capacity"] == {"storage": "2Gi"}  # the volume's, not asked
        assert cluster.get_json("pv", name)["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        cluster.kubectl("delete", "pvc", "mine", "-n", ns, "--timeout=30s", timeout=40)

        def released() -> bool:
            return cluster.get_json("pv", name)["status"].get("phase") == "Released"

        cluster.wait_for(released, 30, interval=0.3, what="the volume Released")
    finally:
        cluster.kubectl("delete", "pv", name, "--wait=false", check=False)


def test_claims_that_can_never_bind_stay_pending_and_say_why(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: no-class}
        spec:
          storageClassName: ""
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
          selector: {matchLabels: {nothing: matches}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: huge}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 100Pi}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: wants-huge}
        spec:
          containers: [{name: c, image: busybox, command: [sleep, "3600"],
                        volumeMounts: [{name: d, mountPath: /d}]}]
          volumes: [{name: d, persistentVolumeClaim: {claimName: huge}}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: wants-missing}
        spec:
          containers: [{name: c, image: busybox, command: [sleep, "3600"],
                        volumeMounts: [{name: d, mountPath: /d}]}]
          volumes: [{name: d, persistentVolumeClaim: {claimName: nowhere}}]
        """,
        tmp_path,
    )

    def reason_of(name: str, reason: str) -> str:
        found = [e["message"] for e in events_of(cluster, ns, name) if e["reason"] == reason]
        return found[0] if found else ""

    cluster.wait_for(
        lambda: reason_of("no-class", "FailedBinding"), 30, interval=0.5, what="FailedBinding"
    )
    assert "no storage class is set" in reason_of("no-class", "FailedBinding")
    cluster.wait_for(
        lambda: "did not have enough free storage" in reason_of("wants-huge", "FailedScheduling"),
        30,
        interval=0.5,
        what="the too big claim's pod unschedulable",
    )
    cluster.wait_for(
        lambda: (
            'persistentvolumeclaim "nowhere" not found'
            in reason_of("wants-missing", "FailedScheduling")
        ),
        30,
        interval=0.5,
        what="the pod of a missing claim unschedulable",
    )
    for claim in ("no-class", "huge"):
        assert cluster.get_json("pvc", claim, "-n", ns)["status"]["phase"] == "Pending"
    volumes = cluster.get_json("pv")["items"]
    assert not [v for v in volumes if (v["spec"].get("claimRef") or {}).get("namespace") == ns]
    # A claim that asks for a bad size is refused outright.
    bad = subprocess.run(
        [*cluster.kubectl_argv(), "create", "-n", ns, "-f", "-"],
        input='{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"bad"},'
        '"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"lots"}}}}',
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode != 0 and "Invalid" in bad.stderr


def test_an_ephemeral_volume_lives_and_dies_with_its_pod(cluster: Cluster, ns: str, tmp_path: Path):
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: scratch}
        spec:
          terminationGracePeriodSeconds: 0
          containers:
          - {name: c, image: busybox, command: [sh, -c, "echo hi > /cache/f; sleep 3600"],
             volumeMounts: [{name: cache, mountPath: /cache}]}
          volumes:
          - name: cache
            ephemeral:
              volumeClaimTemplate:
                spec:
                  accessModes: [ReadWriteOnce]
                  resources: {requests: {storage: 10Mi}}
        """,
        tmp_path,
    )
    cluster.kubectl(
        "wait", "--for=condition=Ready", "pod/scratch", "-n", ns, "--timeout=60s", timeout=70
    )
    assert cluster.kubectl("exec", "scratch", "-n", ns, "--", "cat", "/cache/f").stdout == "hi\n"
    claim = cluster.get_json("pvc", "scratch-cache", "-n", ns)
    assert claim["status"]["phase"] == "Bound"
    assert claim["metadata"]["ownerReferences"][0]["name"] == "scratch"
    cluster.kubectl("delete", "pod", "scratch", "-n", ns)

    def claim_gone() -> bool:
        return cluster.kubectl("get", "pvc", "scratch-cache", "-n", ns, check=False).returncode != 0

    cluster.wait_for(claim_gone, 60, interval=0.5, what="the ephemeral claim deleted with its pod")


def test_a_claim_grows_when_its_class_allows_and_not_otherwise(
    cluster: Cluster, ns: str, tmp_path: Path
):
    expandable = unique("expandable")
    apply(
        cluster,
        ns,
        f"""
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {{name: {expandable}}}
        provisioner: ku7s.dev/local-path
        volumeBindingMode: WaitForFirstConsumer
        allowVolumeExpansion: true
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: grows}}
        spec:
          storageClassName: {expandable}
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 1Gi}}}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: fixed}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 1Gi}}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: user}}
        spec:
          terminationGracePeriodSeconds: 0
          containers: [{{name: c, image: busybox, command: [sleep, "3600"],
                        volumeMounts: [{{name: a, mountPath: /a}}, {{name: b, mountPath: /b}}]}}]
          volumes:
          - {{name: a, persistentVolumeClaim: {{claimName: grows}}}}
          - {{name: b, persistentVolumeClaim: {{claimName: fixed}}}}
        """,
        tmp_path,
    )
    try:
        cluster.kubectl(
            "wait", "--for=condition=Ready", "pod/user", "-n", ns, "--timeout=60s", timeout=70
        )
        grow = '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}'
        cluster.kubectl("patch", "pvc", "grows", "-n", ns, "-p", grow)

        def grown() -> bool:
            claim = cluster.get_json("pvc", "grows", "-n", ns)
            volume = cluster.get_json("pv", claim["spec"]["volumeName"])
            return (
                claim["status"]["capacity"]["storage"] == "2Gi"
                and volume["spec"]["capacity"]["storage"] == "2Gi"
            )

        cluster.wait_for(grown, 30, interval=0.3, what="the claim and its volume at 2Gi")
        refused = cluster.kubectl("patch", "pvc", "fixed", "-n", ns, "-p", grow, check=False)
        assert refused.returncode != 0 and "must support resize" in refused.stderr
    finally:
        cluster.kubectl("delete", "pod", "user", "-n", ns, "--wait=false", check=False)
        cluster.kubectl("delete", "storageclass", expandable, check=False)


def test_a_read_only_claim_and_a_config_map_cannot_be_written_by_the_pod(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {mode: fast}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: shared}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 10Mi}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: reader}
        spec:
          terminationGracePeriodSeconds: 0
          containers:
          - {name: c, image: busybox, command: [sleep, "3600"],
             volumeMounts: [{name: data, mountPath: /data}, {name: cfg, mountPath: /cfg}]}
          volumes:
          - {name: data, persistentVolumeClaim: {claimName: shared, readOnly: true}}
          - {name: cfg, configMap: {name: settings}}
        """,
        tmp_path,
    )
    cluster.kubectl(
        "wait", "--for=condition=Ready", "pod/reader", "-n", ns, "--timeout=60s", timeout=70
    )
    assert cluster.kubectl("exec", "reader", "-n", ns, "--", "cat", "/cfg/mode").stdout == "fast"
    for path in ("/data/x", "/cfg/x"):
        result = cluster.kubectl("exec", "reader", "-n", ns, "--", "touch", path, check=False)
        assert result.returncode != 0 and "Read-only file system" in result.stderr, path


#: A set of one whose claim is a cloud disk.
DISK_STATEFUL = (
    STATEFUL.replace("db", "disk")
    .replace("replicas: 2", "replicas: 1")
    .replace("accessModes:", "storageClassName: ku7s-disk\n      accessModes:")
)


def disk_volumes(cluster: Cluster) -> list[str]:
    """The Docker volumes of the cluster's mock cloud disks."""
    result = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=io.ku7s.cluster={cluster.name}",
         "--filter", "label=io.ku7s.role=disk"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout.split()


def attachments(cluster: Cluster, volume_name: str) -> list[dict]:
    return [
        a
        for a in cluster.get_json("volumeattachments")["items"]
        if a["spec"]["source"].get("persistentVolumeName") == volume_name
    ]


def test_a_disk_is_attached_where_its_pod_runs_breaks_under_detach_volume_and_is_freed(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(cluster, ns, DISK_STATEFUL, tmp_path)
    cluster.kubectl("rollout", "status", "statefulset/disk", "-n", ns, "--timeout=90s", timeout=100)
    claim = cluster.get_json("pvc", "data-disk-0", "-n", ns)
    volume_name = claim["spec"]["volumeName"]
    volume = cluster.get_json("pv", volume_name)
    handle = volume["spec"]["csi"]["volumeHandle"]
    assert volume["spec"]["csi"]["driver"] == "disk.ku7s.dev"
    assert handle in disk_volumes(cluster)  # a real Docker volume
    node = cluster.get_json("pod", "disk-0", "-n", ns)["spec"]["nodeName"]
    [attachment] = attachments(cluster, volume_name)
    assert attachment["spec"]["nodeName"] == node and attachment["status"]["attached"] is True

    # Grown in place: the class allows expansion.
    cluster.kubectl(
        "patch", "pvc", "data-disk-0", "-n", ns, "-p",
        '{"spec": {"resources": {"requests": {"storage": "2Gi"}}}}',
    )  # fmt: skip
    cluster.wait_for(
        lambda: (
            cluster.get_json("pvc", "data-disk-0", "-n", ns)["status"]["capacity"]["storage"]
            == "2Gi"
        ),
        30,
        interval=0.3,
        what="the claim grown",
    )

    # The disk goes away under the pod: its I/O fails; the revert brings the data back.
    def exec_sh(script: str) -> subprocess.CompletedProcess[str]:
        return cluster.kubectl("exec", "disk-0", "-n", ns, "--", "sh", "-c", script, check=False)

    fault = subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", "detach-volume", "data-disk-0", "-n", ns,
         "--name", cluster.name, "--duration", "5s"],
        env={**os.environ, **cluster.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        cluster.wait_for(
            lambda: exec_sh("echo more >> /data/boots").returncode != 0,
            10,
            interval=0.3,
            what="writes to fail",
        )
        failed = exec_sh("cat /data/boots")
        assert failed.returncode != 0
        assert "Transport endpoint is not connected" in failed.stderr or "I/O error" in (
            failed.stderr
        )
    finally:
        output, _ = fault.communicate(timeout=60)
    assert fault.returncode == 0, output
    assert "reverted detach-volume" in output

    def reads_again() -> bool:
        result = exec_sh("cat /data/boots")
        return result.returncode == 0 and result.stdout.split()[:1] == ["disk-0"]

    cluster.wait_for(reads_again, 30, interval=0.5, what="the disk back in the pod")

    # Without pods the disk is detached; without its claim it is deleted.
    cluster.kubectl("delete", "statefulset", "disk", "-n", ns)
    cluster.wait_for(
        lambda: not attachments(cluster, volume_name), 30, interval=0.3, what="the disk detached"
    )
    cluster.kubectl("delete", "pvc", "data-disk-0", "-n", ns, "--timeout=60s", timeout=70)
    cluster.wait_for(
        lambda: handle not in disk_volumes(cluster), 30, interval=0.5, what="the disk deleted"
    )
