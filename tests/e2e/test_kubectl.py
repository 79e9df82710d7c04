"""Everyday kubectl against the cluster, with kubectl 1.33 and 1.27 (own cache dirs each)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import KUBECTL_VERSIONS, Cluster, unique

MANIFEST = Path(__file__).parent / "manifests" / "app.yaml"


@pytest.fixture(params=KUBECTL_VERSIONS)
def version(request) -> str:
    return request.param


@pytest.fixture
def namespace(cluster: Cluster, version: str, tmp_path):
    """A namespace from the multi-document manifest, applied; deleted afterwards."""
    name = unique(f"kc{version.replace('.', '')}")
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.read_text().replace("NAMESPACE", name))
    applied = cluster.kubectl("apply", "-f", str(manifest), version=version)
    assert "deployment.apps/web created" in applied.stdout
    yield name, manifest
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_apply_reapply_and_unchanged(cluster: Cluster, namespace, version):
    name, manifest = namespace
    edited = manifest.read_text().replace("nginx:1.25", "nginx:1.26")
    edited = edited.replace('        - {name: B, value: "2"}\n', "")
    edited = edited.replace(
        '      - name: side\n        image: busybox\n        command: ["sleep", "3600"]\n', ""
    )
    manifest.write_text(edited)
    result = cluster.kubectl("apply", "-f", str(manifest), version=version)
    assert "deployment.apps/web configured" in result.stdout
    deployment = cluster.get_json("deployment", "web", "-n", name)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}]
    assert "$setElementOrder" not in json.dumps(deployment)
    assert deployment["metadata"]["generation"] == 2
    again = cluster.kubectl("apply", "-f", str(manifest), version=version)
    assert "deployment.apps/web unchanged" in again.stdout
    assert "configmap/settings unchanged" in again.stdout


def test_get_with_short_names_and_output_formats(cluster: Cluster, namespace, version):
    name, _ = namespace
    for short in ("deploy", "svc", "cm", "sa", "ns", "no", "rs", "ds", "sts", "po", "ev", "ep"):
        result = cluster.kubectl("get", short, "-n", name, version=version)
        assert result.returncode == 0
    wide = cluster.kubectl("get", "deploy", "-n", name, "-o", "wide", version=version).stdout
    assert wide.split()[:8] == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    names = cluster.kubectl("get", "cm", "-n", name, "-o", "name", version=version).stdout
    assert "configmap/settings" in names.split()
    path = "{.items[*].metadata.name}"
    assert (
        "web"
        in cluster.kubectl(
            "get", "svc", "-n", name, "-o", f"jsonpath={path}", version=version
        ).stdout
    )
    listing = cluster.kubectl("get", "svc", "-A", "-l", "app!=nope", version=version).stdout
    assert name in listing and "kubernetes" in listing
    by_field = cluster.kubectl(
        "get", "cm", "-A", "--field-selector", f"metadata.namespace={name}", version=version
    ).stdout
    assert "settings" in by_field and "kube-system" not in by_field
    everything = cluster.kubectl("get", "all", "-n", name, version=version).stdout
    assert "deployment.apps/web" in everything and "service/web" in everything
    yaml_out = yaml.safe_load(
        cluster.kubectl("get", "deploy", "web", "-n", name, "-o", "yaml", version=version).stdout
    )
    assert yaml_out["kind"] == "Deployment"


def test_create_replace_patch_label_annotate_scale(cluster: Cluster, namespace, version, tmp_path):
    name, _ = namespace
    run = lambda *args: cluster.kubectl("-n", name, *args, version=version)  # noqa: E731
    run("create", "configmap", "made", "--from-literal=a=1")
    run("create", "deployment", "gen", "--image=busybox", "--replicas=3")
    run("create", "secret", "generic", "pw", "--from-literal=password=s3cret")
    run("create", "serviceaccount", "robot")
    run("create", "job", "once", "--image=busybox", "--", "echo", "hi")
    run("create", "service", "clusterip", "svc2", "--tcp=80:8080")
    assert cluster.get_json("deployment", "gen", "-n", name)["spec"]["replicas"] == 3
    current = cluster.get_json("configmap", "made", "-n", name)
    current["data"]["b"] = "2"
    replacement = tmp_path / "cm.json"
    replacement.write_text(json.dumps(current))
    assert "replaced" in run("replace", "-f", str(replacement)).stdout
    run("patch", "configmap", "made", "-p", '{"data":{"c":"3"}}')
    run("patch", "configmap", "made", "--type", "merge", "-p", '{"data":{"d":"4"}}')
    run("patch", "configmap", "made", "--type", "json", "-p", '[{"op":"remove","path":"/data/a"}]')
    assert cluster.get_json("configmap", "made", "-n", name)["data"] == {
        "b": "2",
        "c": "3",
        "d": "4",
    }
    run("label", "deployment", "web", "tier=front")
    run("annotate", "deployment", "web", "note=hi")
    run("scale", "deployment", "web", "--replicas=4")
    deployment = cluster.get_json("deployment", "web", "-n", name)
    assert deployment["metadata"]["labels"]["tier"] == "front"
    assert deployment["metadata"]["annotations"]["note"] == "hi"
    assert deployment["spec"]["replicas"] == 4
    failed = cluster.kubectl(
        "patch",
        "configmap",
        "made",
        "-n",
        name,
        "--type",
        "json",
        "-p",
        '[{"op":"test","path":"/data/b","value":"nope"}]',
        version=version,
        check=False,
    )
    assert failed.returncode != 0


def test_edit_describe_events_and_deletes(cluster: Cluster, namespace, version, tmp_path):
    name, _ = namespace
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/greeting: hello/greeting: edited/' \"$1\"\n")
    editor.chmod(0o755)
    subprocess.run(
        [
            cluster_kubectl(version),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--cache-dir",
            str(cluster.cache_dir / version),
            "edit",
            "configmap",
            "settings",
            "-n",
            name,
        ],
        env={**os.environ, "EDITOR": str(editor), "KUBE_EDITOR": str(editor)},
        check=True,
        capture_output=True,
        text=True,
    )
    assert cluster.get_json("cm", "settings", "-n", name)["data"]["greeting"] == "edited"
    described = cluster.kubectl("describe", "deployment", "web", "-n", name, version=version).stdout
    assert "Replicas:" in described and "nginx:1.25" in described
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "hello", "namespace": name},
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": name},
        "reason": "Testing",
        "message": "an event from the test",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "source": {"component": "e2e"},
    }
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    cluster.kubectl("create", "-f", str(event_file), version=version)
    events = cluster.kubectl("get", "events", "-n", name, version=version).stdout
    assert "Testing" in events and "deployment/web" in events
    for i in range(3):
        cluster.kubectl("create", "configmap", f"bulk{i}", "-n", name, version=version)
    cluster.kubectl(
        "label", "configmap", "bulk0", "bulk1", "-n", name, "purge=yes", version=version
    )
    cluster.kubectl("delete", "configmap", "-l", "purge=yes", "-n", name, version=version)
    left = cluster.kubectl("get", "cm", "-n", name, "-o", "name", version=version).stdout
    assert "bulk0" not in left and "bulk2" in left
    cluster.kubectl("delete", "configmap", "--all", "-n", name, "--wait", version=version)
    assert (
        "bulk2"
        not in cluster.kubectl("get", "cm", "-n", name, "-o", "name", version=version).stdout
    )


def cluster_kubectl(version: str) -> str:
    from tests.e2e.conftest import kubectl_path

    return kubectl_path(version)


def test_watch_sees_an_update(cluster: Cluster, namespace, version):
    name, _ = namespace
    command = [
        cluster_kubectl(version),
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--cache-dir",
        str(cluster.cache_dir / version),
        "get",
        "deployment",
        "web",
        "-n",
        name,
        "-w",
        "--request-timeout=8s",
    ]
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        cluster.kubectl("scale", "deployment", "web", "-n", name, "--replicas=7", version=version)
        time.sleep(1.0)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    rows = [line for line in out.splitlines() if line.startswith("web")]
    assert len(rows) >= 2 and rows[-1].split()[1] == "0/7"


def test_discovery_commands(cluster: Cluster, version):
    resources = cluster.kubectl("api-resources", version=version).stdout
    for name in ("pods", "deployments", "jobs", "leases", "endpointslices", "statefulsets"):
        assert name in resources
    versions = cluster.kubectl("api-versions", version=version).stdout.split()
    assert {
        "v1",
        "apps/v1",
        "batch/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
    } <= set(versions)


def test_deleting_a_namespace_removes_what_is_in_it(cluster: Cluster, namespace, version):
    name, _ = namespace
    cluster.kubectl("delete", "namespace", name, "--timeout=30s", version=version)
    assert name not in cluster.kubectl("get", "ns", "-o", "name", version=version).stdout
    leftovers = cluster.kubectl("get", "deploy,svc,cm", "-A", "-o", "name", version=version)
    assert "web" not in leftovers.stdout.replace("kubernetes", "")


def test_a_list_larger_than_grpcs_default_message_limit(cluster: Cluster, tmp_path: Path):
    """Six ConfigMaps of ~0.9 MB make a 5.4 MB list: one etcd answer above gRPC's 4 MiB
    default (which about 1,500 pods also pass). It is listed whole, as on kind."""
    data = tmp_path / "data"
    data.write_text("y" * 900_000)
    with cluster.namespace("big") as ns:
        for i in range(6):
            cluster.kubectl("create", "configmap", f"m{i}", "-n", ns, f"--from-file={data}")
        listed = cluster.kubectl("get", "configmaps", "-n", ns, "-o", "name").stdout.split()
        assert {f"configmap/m{i}" for i in range(6)} <= set(listed)
