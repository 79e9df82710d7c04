"""A small operator, installed from YAML as any operator is and run in pods: a CRD with two
versions (conversion by webhook), a status subresource, printer columns and a CEL rule; a
webhook pod behind a Service that validates and converts; and a controller pod that
watches the custom resources with the official Python client, makes a ConfigMap for each
(owned by it) and reports in status. The API server, kubectl, the controller and the
garbage collector treat it all as they would on kind."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Cluster, unique
from tests.e2e.https_pods import REVIEW_SERVER, https_pod

#: The webhook: refuses greetings that say goodbye, converts between v1 (spec.message) and
#: v2 (spec.text).
WEBHOOK = (
    """
def validate(request):
    spec = (request.get("object") or {}).get("spec") or {}
    said = spec.get("message") or spec.get("text") or ""
    answer = {"uid": request["uid"], "allowed": "goodbye" not in said}
    if not answer["allowed"]:
        answer["status"] = {"code": 400, "message": "greetings may not say goodbye"}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}

def convert(request):
    wanted, converted = request["desiredAPIVersion"], []
    for obj in request["objects"]:
        spec = obj.setdefault("spec", {})
        if wanted.endswith("/v2") and "message" in spec:
            spec["text"] = spec.pop("message")
        elif wanted.endswith("/v1") and "text" in spec:
            spec["message"] = spec.pop("text")
        obj["apiVersion"] = wanted
        converted.append(obj)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": request["uid"], "convertedObjects": converted,
                         "result": {"status": "Success"}}}

def answer(path, request):
    return (convert if path.startswith("/convert") else validate)(request)
"""
    + REVIEW_SERVER
)

#: The controller: for each greeting, a ConfigMap holding the message `copies` times, owned
#: by the greeting; then status.phase Ready and the ConfigMap's name.
CONTROLLER = """
import os, time
from kubernetes import client, config, watch
config.load_incluster_config()
namespace = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
group = os.environ["GROUP"]
custom, core = client.CustomObjectsApi(), client.CoreV1Api()

def reconcile(greeting):
    name, spec = greeting["metadata"]["name"], greeting["spec"]
    owner = client.V1OwnerReference(
        api_version=greeting["apiVersion"], kind=greeting["kind"], name=name,
        uid=greeting["metadata"]["uid"], controller=True, block_owner_deletion=True)
    data = {"text": " ".join([spec["message"]] * spec["copies"])}
    made = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="greeting-" + name, owner_references=[owner]),
        data=data)
    try:
        core.create_namespaced_config_map(namespace, made)
    except client.ApiException as e:
        if e.status != 409:
            raise
        core.patch_namespaced_config_map("greeting-" + name, namespace, {"data": data})
    custom.patch_namespaced_custom_object_status(group, "v1", namespace, "greetings", name, {
        "status": {"phase": "Ready", "configMap": "greeting-" + name,
                   "observedGeneration": greeting["metadata"]["generation"]}})
    print("RECONCILED", name, flush=True)

while True:
    try:
        for event in watch.Watch().stream(custom.list_namespaced_custom_object, group, "v1",
                                          namespace, "greetings", timeout_seconds=60):
            if event["type"] in ("ADDED", "MODIFIED"):
                reconcile(event["object"])
    except Exception as e:
        print("WATCH FAILED", e, flush=True)
        time.sleep(1)
"""


def crd(group: str, ns: str, bundle: str) -> dict:
    def version(name: str, field: str, storage: bool) -> dict:
        spec = {
            "type": "object", "required": [field, "copies"],
            "properties": {field: {"type": "string", "minLength": 1},
                           "copies": {"type": "integer", "minimum": 1, "maximum": 10}},
            "x-kubernetes-validations": [{
                "rule": f"self.copies <= 3 || self.{field}.size() <= 10",
                "message": "long greetings get at most 3 copies"}],
        }  # fmt: skip
        status = {"type": "object", "properties": {
            "phase": {"type": "string"}, "configMap": {"type": "string"},
            "observedGeneration": {"type": "integer"}}}  # fmt: skip
        return {
            "name": name, "served": True, "storage": storage,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": spec, "status": status}}},
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "Copies", "type": "integer", "jsonPath": ".spec.copies"},
                {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}],
        }  # fmt: skip

    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"greetings.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting",
                      "shortNames": ["gr"]},
            "versions": [version("v1", "message", True), version("v2", "text", False)],
            "conversion": {"strategy": "Webhook", "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"caBundle": bundle, "service": {
                    "namespace": ns, "name": "greeter-webhook", "path": "/convert"}}}},
        },
    }  # fmt: skip


def operator_objects(group: str, ns: str, image: str) -> list[dict]:
    """Everything but the namespace: the CRD, the webhook's and the controller's pods, RBAC."""
    webhook = https_pod("greeter-webhook", ns, WEBHOOK, image)
    bundle = webhook.ca_bundle
    controller = {"name": "greeter-controller", "image": image,
                  "command": ["python3", "-c", CONTROLLER],
                  "env": [{"name": "GROUP", "value": group}]}  # fmt: skip
    return [
        crd(group, ns, bundle),
        *webhook.objects,
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "greeter", "namespace": ns}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "greeter", "namespace": ns},
         "rules": [
             {"apiGroups": [group], "resources": ["greetings"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": [group], "resources": ["greetings/status"], "verbs": ["patch"]},
             {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "greeter", "namespace": ns},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "greeter"},
         "subjects": [{"kind": "ServiceAccount", "name": "greeter", "namespace": ns}]},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "greeter-controller", "namespace": ns},
         "spec": {"selector": {"matchLabels": {"app": "greeter-controller"}}, "template": {
             "metadata": {"labels": {"app": "greeter-controller"}},
             "spec": {"serviceAccountName": "greeter", "containers": [controller]}}}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": f"greetings.{group}"},
         "webhooks": [{
             "name": f"greetings.{group}", "sideEffects": "None",
             "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "timeoutSeconds": 5,
             "clientConfig": {"caBundle": bundle, "service": {
                 "namespace": ns, "name": "greeter-webhook", "path": "/validate"}},
             "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [group],
                        "apiVersions": ["*"], "resources": ["greetings"]}]}]},
    ]  # fmt: skip


@pytest.fixture
def operator(cluster: Cluster, client_image: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The operator installed with kubectl apply in a namespace of its own: (group, ns)."""
    ns, group = unique("greeter"), f"{unique('g')}.example.com"
    manifest = tmp_path / "operator.yaml"
    objects = operator_objects(group, ns, client_image)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    manifest.write_text(yaml.safe_dump_all([namespace, *objects]))
    try:
        cluster.kubectl("apply", "-f", str(manifest))
        for name in ("greeter-webhook", "greeter-controller"):
            cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", ns,
                            "--timeout=120s", timeout=130)  # fmt: skip
        yield group, ns
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", f"greetings.{group}",
                        "--ignore-not-found", check=False)  # fmt: skip
        cluster.kubectl("delete", "crd", f"greetings.{group}", "--ignore-not-found",
                        "--timeout=60s", check=False, timeout=70)  # fmt: skip
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        # kubectl's discovery cache would still list the deleted kind for `get all`
        shutil.rmtree(cluster.cache_dir, ignore_errors=True)


def greeting(group: str, ns: str, name: str, message: str, copies: int, version: str = "v1"):
    field = "message" if version == "v1" else "text"
    return {"apiVersion": f"{group}/{version}", "kind": "Greeting",
            "metadata": {"name": name, "namespace": ns},
            "spec": {field: message, "copies": copies}}  # fmt: skip


def apply(cluster: Cluster, tmp_path: Path, obj: dict, check: bool = True):
    path = tmp_path / f"{obj['metadata']['name']}-{unique('m')}.json"
    path.write_text(json.dumps(obj))
    return cluster.kubectl("apply", "-f", str(path), check=check)


def test_an_operator_installs_reconciles_refuses_and_cleans_up(
    cluster: Cluster, operator: tuple[str, str], tmp_path: Path
):
    group, ns = operator
    apply(cluster, tmp_path, greeting(group, ns, "hello", "hello", 2))

    # The controller pod reconciles: a ConfigMap owned by the greeting, and status.
    def ready() -> bool:
        got = cluster.get_json(f"greetings.{group}", "hello", "-n", ns)
        return (got.get("status") or {}).get("phase") == "Ready"

    cluster.wait_for(ready, timeout=60, interval=0.5, what="the controller to reconcile")
    made = cluster.get_json("configmap", "greeting-hello", "-n", ns)
    assert made["data"] == {"text": "hello hello"}
    assert made["metadata"]["ownerReferences"][0]["kind"] == "Greeting"
    table = cluster.kubectl("get", "gr", "-n", ns).stdout.split("\n")
    assert table[0].split() == ["NAME", "COPIES", "PHASE"]
    assert table[1].split() == ["hello", "2", "Ready"]

    # A spec change bumps the generation and is reconciled; status writes do not bump it.
    changed = greeting(group, ns, "hello", "hi", 3)
    apply(cluster, tmp_path, changed)
    cluster.wait_for(
        lambda: cluster.get_json("configmap", "greeting-hello", "-n", ns)["data"]
        == {"text": "hi hi hi"},
        timeout=60, interval=0.5, what="the change to be reconciled",
    )  # fmt: skip
    got = cluster.get_json(f"greetings.{group}", "hello", "-n", ns)
    assert got["metadata"]["generation"] == 2
    cluster.wait_for(
        lambda: cluster.get_json(f"greetings.{group}", "hello", "-n", ns)["status"].get(
            "observedGeneration") == 2,
        timeout=30, interval=0.5, what="status.observedGeneration",
    )  # fmt: skip

    # v2 is served through the conversion webhook, both ways.
    as_v2 = cluster.get_json(f"greetings.v2.{group}", "hello", "-n", ns)
    assert as_v2["apiVersion"] == f"{group}/v2" and as_v2["spec"] == {"text": "hi", "copies": 3}
    apply(cluster, tmp_path, greeting(group, ns, "bonjour", "bonjour", 1, version="v2"))
    as_v1 = cluster.get_json(f"greetings.v1.{group}", "bonjour", "-n", ns)
    assert as_v1["spec"] == {"message": "bonjour", "copies": 1}

    # Refused: by the webhook, and by the CEL rule, each with its message.
    said_goodbye = apply(cluster, tmp_path, greeting(group, ns, "bye", "goodbye", 1), check=False)
    assert said_goodbye.returncode != 0
    assert (f'admission webhook "greetings.{group}" denied the request: greetings may not '
            "say goodbye") in said_goodbye.stderr  # fmt: skip
    too_many = apply(cluster, tmp_path, greeting(group, ns, "long", "good morning", 4),
                     check=False)  # fmt: skip
    assert too_many.returncode != 0
    assert "spec: Invalid value: \"object\": long greetings get at most 3 copies" in (
        too_many.stderr)  # fmt: skip

    # Deleting the CRD deletes the greetings, and the garbage collector their ConfigMaps.
    cluster.kubectl("delete", "crd", f"greetings.{group}", "--timeout=60s", timeout=70)
    cluster.wait_for(
        lambda: all(not c["metadata"]["name"].startswith("greeting-")
                    for c in cluster.get_json("configmaps", "-n", ns)["items"]),
        timeout=60, interval=0.5, what="the greetings' ConfigMaps to be collected",
    )  # fmt: skip
