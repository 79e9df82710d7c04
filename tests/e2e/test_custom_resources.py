"""Custom resources as an operator's users meet them with kubectl and the official Python
client: a definition applied and established, its kind in discovery, printer columns and
the `all` category, schema errors in upstream's words, scale and status, objects owned by
a custom resource collected with it, and everything gone with the definition."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import yaml
from kubernetes import client, config, dynamic

from tests.e2e.conftest import Cluster, unique


def definition(group: str) -> dict:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "x-kubernetes-validations": [
                    {"rule": "self.replicas <= 5", "message": "a widget runs at most 5 replicas"}
                ],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "replicas": {"type": "integer", "default": 1},
                },
            },
            "status": {
                "type": "object",
                "properties": {"phase": {"type": "string"}, "replicas": {"type": "integer"}},
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "shortNames": ["wdg"], "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                ],
            }],
        },
    }  # fmt: skip


@pytest.fixture
def widgets(cluster: Cluster, tmp_path) -> Iterator[tuple[str, str]]:
    """A Widget definition in a group of its own, established; its namespace."""
    group = f"{unique('w')}.example.com"
    namespace = unique("crd")
    path = tmp_path / "crd.yaml"
    path.write_text(yaml.safe_dump(definition(group)))
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("apply", "-f", str(path))
    try:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}",
                        "--timeout=10s")  # fmt: skip
        yield group, namespace
    finally:
        cluster.kubectl("delete", "crd", f"widgets.{group}", "--ignore-not-found",
                        "--timeout=30s", check=False, timeout=40)  # fmt: skip
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        # kubectl keeps discovery on disk: forget the kind, or later `kubectl get all` (whose
        # category it joined) asks for it, as it would on any cluster.
        shutil.rmtree(cluster.cache_dir, ignore_errors=True)


def apply(cluster: Cluster, namespace: str, obj: dict, *flags: str, check: bool = True):
    return subprocess.run(
        [*cluster.kubectl_argv(), "apply", "-n", namespace, *flags, "-f", "-"],
        input=json.dumps(obj), capture_output=True, text=True, check=check,
    )  # fmt: skip


def test_kubectl_serves_prints_validates_and_scales_a_custom_resource(
    cluster: Cluster, widgets: tuple[str, str]
):
    group, ns = widgets
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "small"},
              "spec": {"size": 2, "unknown": "pruned"}}  # fmt: skip
    apply(cluster, ns, widget, "--validate=false")  # unknown fields are pruned, not refused
    got = cluster.get_json(f"widgets.{group}/small", "-n", ns)
    assert got["spec"] == {"size": 2, "color": "red", "replicas": 1}
    table = cluster.kubectl("get", "wdg", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR", "PHASE"]
    assert table[1].split() == ["small", "2", "red"]
    assert f"widget.{group}/small" in cluster.kubectl("get", "all", "-n", ns, "-o", "name").stdout

    bad = {**widget, "metadata": {"name": "bad"}, "spec": {"size": 11, "color": "green"}}
    refused = apply(cluster, ns, bad, check=False)
    assert refused.returncode != 0
    assert 'The Widget "bad" is invalid:' in refused.stderr
    assert 'spec.color: Unsupported value: "green": supported values: "red", "blue"' in (
        refused.stderr
    )
    assert "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10" in (
        refused.stderr
    )

    cluster.kubectl("scale", f"widgets.{group}/small", "-n", ns, "--replicas=3")
    scaled = cluster.get_json(f"widgets.{group}/small", "-n", ns)
    assert scaled["spec"]["replicas"] == 3 and scaled["metadata"]["generation"] == 2
    too_many = cluster.kubectl("scale", f"widgets.{group}/small", "-n", ns, "--replicas=6",
                               check=False)  # fmt: skip
    assert 'spec: Invalid value: "object": a widget runs at most 5 replicas' in too_many.stderr
    strategic = cluster.kubectl("patch", f"widgets.{group}/small", "-n", ns, "-p",
                                '{"spec": {"size": 4}}', check=False)  # fmt: skip
    assert "application/merge-patch+json" in strategic.stderr
    cluster.kubectl("patch", f"widgets.{group}/small", "-n", ns, "--type=merge", "-p",
                    '{"spec": {"size": 4}}')  # fmt: skip
    assert cluster.get_json(f"widgets.{group}/small", "-n", ns)["spec"]["size"] == 4


def test_python_client_status_ownership_and_deleting_the_definition(
    cluster: Cluster, widgets: tuple[str, str]
):
    group, ns = widgets
    api = config.new_client_from_config(str(cluster.kubeconfig))
    custom = client.CustomObjectsApi(api)
    created = custom.create_namespaced_custom_object(group, "v1", ns, "widgets", {
        "apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "owned"},
        "spec": {"size": 5},
    })  # fmt: skip
    custom.patch_namespaced_custom_object_status(
        group, "v1", ns, "widgets", "owned", {"status": {"phase": "Ready", "replicas": 1}}
    )
    row = cluster.kubectl(
        "get", f"widgets.{group}", "owned", "-n", ns, "--no-headers"
    ).stdout.split()
    assert row[:4] == ["owned", "5", "red", "Ready"]
    # The dynamic client finds the kind through discovery, as operators' tooling does.
    resource = dynamic.DynamicClient(api).resources.get(api_version=f"{group}/v1", kind="Widget")
    assert [w.metadata.name for w in resource.get(namespace=ns).items] == ["owned"]

    owner = {"apiVersion": f"{group}/v1", "kind": "Widget", "name": "owned",
             "uid": created["metadata"]["uid"]}  # fmt: skip
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, {
        "metadata": {"name": "widget-config", "ownerReferences": [owner]}, "data": {"a": "b"},
    })  # fmt: skip
    custom.delete_namespaced_custom_object(group, "v1", ns, "widgets", "owned")
    cluster.wait_for(
        lambda: cluster.kubectl("get", "configmap", "widget-config", "-n", ns,
                                check=False).returncode != 0,
        timeout=15, what="the garbage collector to delete what the widget owned",
    )  # fmt: skip

    for name in ("one", "two"):
        custom.create_namespaced_custom_object(group, "v1", ns, "widgets", {
            "apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": 1},
        })  # fmt: skip
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--timeout=20s", timeout=30)
    missing = cluster.kubectl("get", f"widgets.{group}", "-n", ns, check=False)
    assert missing.returncode != 0
    assert "the server doesn't have a resource type" in missing.stderr


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_explain_and_typos_refused_for_built_in_and_custom_kinds(
    cluster: Cluster, widgets: tuple[str, str], version: str
):
    group, ns = widgets
    ports = cluster.kubectl("explain", "pod.spec.containers.ports", version=version).stdout
    assert "FIELD: ports <[]ContainerPort>" in ports and "containerPort\t<integer>" in ports
    explained = cluster.kubectl("explain", f"widgets.{group}.spec", version=version).stdout
    assert "KIND:       Widget" in explained and "size\t<integer>" in explained
    # Every built-in kind is described, those that extend the API too.
    described_fields = {
        "validatingwebhookconfiguration.webhooks": "clientConfig\t<WebhookClientConfig>",
        "crd.spec.versions": "additionalPrinterColumns\t<[]CustomResourceColumnDefinition>",
        "apiservice.spec": "groupPriorityMinimum\t<integer>",
    }
    for path, field in described_fields.items():
        described = cluster.kubectl("explain", path, version=version).stdout
        assert field in described, described
    # The same from /openapi/v2, decoded from its protobuf form as kubectl 1.2x always did.
    v2 = cluster.kubectl("explain", "deployment.spec.strategy", "--output=plaintext-openapiv2",
                         version=version).stdout  # fmt: skip
    assert "KIND:     Deployment" in v2 and "rollingUpdate\t<Object>" in v2, v2
    v2 = cluster.kubectl("explain", f"widgets.{group}.spec", "--output=plaintext-openapiv2",
                         version=version).stdout  # fmt: skip
    assert "KIND:     Widget" in v2 and "size\t<integer>" in v2, v2
    typo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo"},
            "data": {"a": "b"}, "dta": {"c": "d"}}  # fmt: skip
    refused = subprocess.run(
        [*cluster.kubectl_argv(version), "apply", "-n", ns, "-f", "-"],
        input=json.dumps(typo), capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0 and 'unknown field "dta"' in refused.stderr
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "typo"},
              "spec": {"size": 1, "colour": "red"}}  # fmt: skip
    refused = subprocess.run(
        [*cluster.kubectl_argv(version), "create", "-n", ns, "-f", "-"],
        input=json.dumps(widget), capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0 and 'unknown field "spec.colour"' in refused.stderr
