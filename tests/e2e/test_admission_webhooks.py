"""An admission webhook served by a pod, as operators ship them: a Deployment running an
HTTPS server (its certificate in a Secret, for <service>.<namespace>.svc), a Service in
front of it, and a ValidatingWebhookConfiguration with the CA bundle. The API server finds
the pod through the Service, checks its certificate, and answers kubectl with the webhook's
message; with the pod gone, failurePolicy decides."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import Cluster, run_ku7s, unique
from tests.e2e.https_pods import REVIEW_SERVER, https_pod

#: Denies config maps labelled deny=yes, with a message; allows everything else.
SERVER = (
    """
def answer(path, request):
    labels = (request.get("object") or {}).get("metadata", {}).get("labels") or {}
    response = {"uid": request["uid"], "allowed": labels.get("deny") != "yes"}
    if not response["allowed"]:
        response["status"] = {"code": 403, "message": "this namespace refuses deny=yes"}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
"""
    + REVIEW_SERVER
)


@pytest.fixture
def hooked(cluster: Cluster, tmp_path) -> Iterator[str]:
    """A namespace whose config maps go through a webhook served inside it."""
    loaded = run_ku7s("load", "image", "python:3", "--name", cluster.name, env=cluster.env)
    assert loaded.returncode == 0, loaded.stderr
    ns = unique("hook")
    hook = https_pod("hook", ns, SERVER, "python:3")
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        *hook.objects,
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": ns},
         "webhooks": [{
             "name": f"configmaps.{ns}.example.com", "sideEffects": "None",
             "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "timeoutSeconds": 5,
             "clientConfig": {"service": {"namespace": ns, "name": "hook"},
                              "caBundle": hook.ca_bundle},
             "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
             "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""],
                        "apiVersions": ["v1"], "resources": ["configmaps"]}]}]},
    ]  # fmt: skip
    manifest = tmp_path / "hook.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    try:
        cluster.kubectl("apply", "-f", str(manifest))
        cluster.kubectl("rollout", "status", "deployment/hook", "-n", ns, "--timeout=90s",
                        timeout=100)  # fmt: skip
        yield ns
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", ns, "--ignore-not-found",
                        check=False)  # fmt: skip
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_a_webhook_in_a_pod_refuses_with_its_message(cluster: Cluster, hooked: str, tmp_path):
    ns = hooked
    labelled = tmp_path / "labelled.json"
    labelled.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "no", "namespace": ns, "labels": {"deny": "yes"}}}))  # fmt: skip
    denied = cluster.kubectl("create", "-f", str(labelled), check=False)
    assert denied.returncode != 0
    assert (
        f'admission webhook "configmaps.{ns}.example.com" denied the request: this namespace '
        "refuses deny=yes"
    ) in denied.stderr
    cluster.kubectl("create", "configmap", "yes", "-n", ns, "--from-literal=a=b")
    # Elsewhere the webhook is not asked.
    cluster.kubectl("create", "configmap", f"elsewhere-{ns}", "-n", "default")
    cluster.kubectl("delete", "configmap", f"elsewhere-{ns}", "-n", "default")

    # With its pod gone the webhook cannot answer: failurePolicy Fail refuses, naming it.
    cluster.kubectl("scale", "deployment/hook", "-n", ns, "--replicas=0")
    cluster.wait_for(
        lambda: "failed calling webhook" in cluster.kubectl(
            "create", "configmap", "later", "-n", ns, check=False).stderr,
        timeout=30, what="the webhook to be unreachable",
    )  # fmt: skip


def test_a_validating_admission_policy_refuses_through_kubectl(cluster: Cluster, tmp_path):
    """upstream's documented example: at most 5 replicas, from a policy and its binding
    applied with kubectl; Warn only warns."""
    with cluster.namespace("policy") as ns:
        name = unique("max-replicas")
        objects = [
            {"apiVersion": "admissionregistration.k8s.io/v1",
             "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
             "spec": {"failurePolicy": "Fail",
                      "matchConstraints": {"resourceRules": [{
                          "apiGroups": ["apps"], "apiVersions": ["v1"],
                          "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]},
                      "validations": [{"expression": "object.spec.replicas <= 5"}]}},
            {"apiVersion": "admissionregistration.k8s.io/v1",
             "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
             "spec": {"policyName": name, "validationActions": ["Deny"],
                      "matchResources": {"namespaceSelector": {"matchLabels": {
                          "kubernetes.io/metadata.name": ns}}}}},
        ]  # fmt: skip
        manifest = tmp_path / "policy.yaml"
        manifest.write_text(yaml.safe_dump_all(objects))
        try:
            cluster.kubectl("apply", "-f", str(manifest))
            listed = cluster.kubectl("get", "validatingadmissionpolicies", name).stdout
            assert listed.split("\n")[0].split() == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]

            def refused() -> str:
                big = ("create", "deployment", "big", "-n", ns, "--image=busybox", "--replicas=6")
                return cluster.kubectl(*big, check=False).stderr

            cluster.wait_for(lambda: "denied request" in refused(), timeout=10,
                             what="the policy to refuse")  # fmt: skip
            assert (f"ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: "
                    "failed expression: object.spec.replicas <= 5") in refused()  # fmt: skip
            cluster.kubectl("create", "deployment", "small", "-n", ns, "--image=busybox",
                            "--replicas=5")  # fmt: skip
            objects[1]["spec"]["validationActions"] = ["Warn"]
            manifest.write_text(yaml.safe_dump_all(objects))
            cluster.kubectl("apply", "-f", str(manifest))
            scaled: list[str] = []

            def scale() -> bool:
                result = cluster.kubectl("scale", "deployment/small", "-n", ns, "--replicas=7",
                                         check=False)  # fmt: skip
                scaled.append(result.stderr)
                return result.returncode == 0

            cluster.wait_for(scale, timeout=10, what="the binding to only warn")
            assert (f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}' with "
                    f"binding '{name}': failed expression") in scaled[-1]  # fmt: skip
        finally:
            cluster.kubectl("delete", "-f", str(manifest), "--ignore-not-found", check=False)
