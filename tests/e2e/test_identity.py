"""Identity and access as apps and users meet them: a pod's own token with the official
Python client and kubectl in-cluster, RBAC granting and revoking, TokenRequest and the
reviews through kubectl, users made by `ku7s create user`, and escalation refused."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.client_image import load_client_image
from tests.e2e.conftest import Cluster, kubectl_path, new_cluster, run_ku7s, unique

MANIFESTS = Path(__file__).parent / "manifests"
#: Lists the pods of its namespace every half second with load_incluster_config(), saying
#: whether it may.
LISTER = """
import time
from kubernetes import client, config
config.load_incluster_config()
core = client.CoreV1Api()
namespace = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
while True:
    try:
        pods = core.list_namespaced_pod(namespace).items
        print("LISTED", len(pods), flush=True)
    except client.ApiException as e:
        print("DENIED", e.status, flush=True)
    time.sleep(0.5)
"""

#: Holds one watch on its namespace's config maps open for minutes while, every second,
#: listing them anew (each list sends whatever token the client holds then) and saying
#: when the token file changed. Prints its first token so the test can see it die.
WATCHER = """
import base64, json, threading, time
from kubernetes import client, config, watch
TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
config.load_incluster_config()
core = client.CoreV1Api()
namespace = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
first = open(TOKEN).read()
print("FIRST", first, flush=True)
def follow():
    for event in watch.Watch().stream(core.list_namespaced_config_map, namespace,
                                      timeout_seconds=300):
        print("EVENT", event["type"], event["object"].metadata.name, flush=True)
    print("WATCH ENDED", flush=True)
threading.Thread(target=follow, daemon=True).start()
seen = None
while True:
    payload = open(TOKEN).read().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if claims["jti"] != seen:
        seen = claims["jti"]
        print("TOKEN", claims["exp"] - claims["iat"], flush=True)
    try:
        core.list_namespaced_config_map(namespace)
        print("LISTED", flush=True)
    except client.ApiException as e:
        print("DENIED", e.status, flush=True)
    time.sleep(1)
"""
#: The token life the refresh test's cluster caps tokens at.
SHORT_TOKEN_SECONDS = 20


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("id") as name:
        yield name


def test_in_cluster_client_and_kubectl_follow_rbac(cluster: Cluster, client_image: str, ns: str):
    cluster.kubectl(
        "run", "lister", "-n", ns, f"--image={client_image}", "--", "python3", "-c", LISTER
    )
    cluster.kubectl("wait", "--for=condition=Ready", "pod/lister", "-n", ns, "--timeout=60s")

    def last_line() -> str:
        lines = cluster.kubectl("logs", "lister", "-n", ns, check=False).stdout.split("\n")
        return next((line for line in reversed(lines) if line), "")

    cluster.wait_for(lambda: last_line() == "DENIED 403", timeout=30, what="a 403 first")
    cluster.kubectl(
        "create", "rolebinding", "view", "-n", ns, "--clusterrole=view",
        f"--serviceaccount={ns}:default",
    )  # fmt: skip
    cluster.wait_for(lambda: last_line().startswith("LISTED"), timeout=15, what="the grant")
    inside = cluster.kubectl("exec", "lister", "-n", ns, "--", "kubectl", "get", "pods", "-o",
                             "name")  # fmt: skip
    assert inside.stdout.strip() == "pod/lister"
    whoami = cluster.kubectl("exec", "lister", "-n", ns, "--", "kubectl", "auth", "whoami",
                             "-o", "json")  # fmt: skip
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == (
        f"system:serviceaccount:{ns}:default"
    )
    cluster.kubectl("delete", "rolebinding", "view", "-n", ns)
    cluster.wait_for(lambda: last_line() == "DENIED 403", timeout=15, what="the revocation")
    refused = cluster.kubectl("exec", "lister", "-n", ns, "--", "kubectl", "get", "pods",
                              check=False)  # fmt: skip
    assert refused.returncode != 0
    assert (
        f'pods is forbidden: User "system:serviceaccount:{ns}:default" cannot list resource '
        f'"pods" in API group "" in the namespace "{ns}"'
    ) in refused.stderr


def test_no_token_where_the_pod_or_its_account_says_so(cluster: Cluster, ns: str):
    cluster.kubectl("create", "serviceaccount", "quiet", "-n", ns)
    cluster.kubectl("patch", "serviceaccount", "quiet", "-n", ns, "-p",
                    '{"automountServiceAccountToken": false}')  # fmt: skip
    overrides = json.dumps({"spec": {"serviceAccountName": "quiet"}})
    cluster.kubectl("run", "q", "-n", ns, "--image=busybox", f"--overrides={overrides}", "--",
                    "sleep", "3600")  # fmt: skip
    cluster.kubectl("run", "t", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    pods = {p["metadata"]["name"]: p for p in cluster.get_json("pods", "-n", ns)["items"]}
    assert not any(
        v["name"].startswith("kube-api-access-") for v in pods["q"]["spec"].get("volumes") or []
    )
    [volume] = [v for v in pods["t"]["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert [next(iter(s)) for s in volume["projected"]["sources"]] == [
        "serviceAccountToken", "configMap", "downwardAPI",
    ]  # fmt: skip
    cluster.kubectl("wait", "--for=condition=Ready", "pod/t", "pod/q", "-n", ns, "--timeout=60s")
    listing = cluster.kubectl("exec", "t", "-n", ns, "--", "ls",
                              "/var/run/secrets/kubernetes.io/serviceaccount").stdout  # fmt: skip
    assert listing.split() == ["ca.crt", "namespace", "token"]
    missing = cluster.kubectl("run", "m", "-n", ns, "--image=busybox",
                              '--overrides={"spec": {"serviceAccountName": "nosuch"}}',
                              check=False)  # fmt: skip
    assert "error looking up service account" in missing.stderr and "nosuch" in missing.stderr


def api_request(
    server: str, path: str, token: str | None = None, data: dict | None = None
) -> tuple[int, dict]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(f"{server}{path}", method="POST" if data else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    body = json.dumps(data).encode() if data else None
    if body:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, body, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_tokens_reviews_and_bad_credentials(cluster: Cluster, ns: str, tmp_path: Path):
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    cluster.kubectl("create", "serviceaccount", "app", "-n", ns)
    token = cluster.kubectl("create", "token", "app", "-n", ns, "--duration=15m").stdout.strip()
    as_app = tmp_path / "app.kubeconfig"
    as_app.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "app",
        "clusters": [{"name": "c", "cluster": config["clusters"][0]["cluster"]}],
        "users": [{"name": "app", "user": {"token": token}}],
        "contexts": [{"name": "app", "context": {"cluster": "c", "user": "app", "namespace": ns}}],
    }))  # fmt: skip
    app = [kubectl_path("1.33"), "--kubeconfig", str(as_app)]
    whoami = subprocess.run([*app, "auth", "whoami", "-o", "json"], capture_output=True, text=True)
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == (
        f"system:serviceaccount:{ns}:app"
    )
    assert subprocess.run([*app, "auth", "can-i", "list", "pods"], capture_output=True,
                          text=True).stdout.strip() == "no"  # fmt: skip
    cluster.kubectl("create", "rolebinding", "app-edit", "-n", ns, "--clusterrole=edit",
                    f"--serviceaccount={ns}:app")  # fmt: skip
    can = cluster.kubectl("auth", "can-i", "create", "deployments", "-n", ns,
                          f"--as=system:serviceaccount:{ns}:app").stdout  # fmt: skip
    assert can.strip() == "yes"
    cluster.wait_for(
        lambda: subprocess.run([*app, "get", "pods"], capture_output=True).returncode == 0,
        timeout=10, what="the binding to count",
    )  # fmt: skip
    listing = subprocess.run([*app, "auth", "can-i", "--list"], capture_output=True, text=True)
    assert "deployments.apps" in listing.stdout
    jwks_status, jwks = api_request(server, "/openid/v1/jwks", token)
    assert jwks_status == 200 and jwks["keys"][0]["alg"] == "ES256"

    short = cluster.kubectl("create", "token", "app", "-n", ns, "--duration=1m", check=False)
    assert "may not specify a duration less than 10 minutes" in short.stderr
    status, body = api_request(server, "/api/v1/pods")
    assert status == 403 and body["message"] == (
        'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
        "at the cluster scope"
    )
    assert api_request(server, "/version")[0] == 200
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert api_request(server, "/api/v1/namespaces", forged)[0] == 401
    cluster.kubectl("delete", "serviceaccount", "app", "-n", ns)
    cluster.wait_for(
        lambda: api_request(server, f"/api/v1/namespaces/{ns}/pods", token)[0] == 401,
        timeout=10, what="the token of a deleted service account to stop working",
    )  # fmt: skip


def test_users_escalation_and_a_real_manifests_rbac(cluster: Cluster, ns: str, tmp_path: Path):
    alice = unique("alice")
    made = run_ku7s("create", "user", alice, "--group", "devs", "--name", cluster.name,
                    env=cluster.env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    as_alice = ["--context", f"ku7s-{cluster.name}-{alice}"]
    denied = cluster.kubectl(*as_alice, "get", "pods", "-n", ns, check=False)
    assert f'User "{alice}" cannot list resource "pods"' in denied.stderr
    cluster.kubectl("create", "rolebinding", "alice-admin", "-n", ns, "--clusterrole=admin",
                    f"--user={alice}")  # fmt: skip
    cluster.wait_for(
        lambda: cluster.kubectl(*as_alice, "get", "pods", "-n", ns, check=False).returncode == 0,
        timeout=10, what="alice's grant",
    )  # fmt: skip
    # What she holds she may hand on; what she does not, she may not.
    cluster.kubectl(*as_alice, "create", "role", "pod-reader", "-n", ns, "--verb=get,list",
                    "--resource=pods")  # fmt: skip
    cluster.kubectl(*as_alice, "create", "rolebinding", "carol", "-n", ns, "--role=pod-reader",
                    "--user=carol")  # fmt: skip
    escalating = cluster.kubectl(*as_alice, "create", "role", "node-reader", "-n", ns,
                                 "--verb=get", "--resource=nodes", check=False)  # fmt: skip
    assert "attempting to grant RBAC permissions not currently held" in escalating.stderr
    bad = cluster.kubectl("create", "role", "typo", "-n", ns, "--verb=Get", "--resource=pods",
                          check=False)  # fmt: skip
    assert 'rules[0].verbs[0]: Unsupported value: "Get"' in bad.stderr

    # An ingress controller's namespaced RBAC: the admission job's role (secrets) is hers
    # to grant; the controller's (ingresses/status, ingressclasses) is not, nor a binding to
    # it while it is missing. An admin applies the rest, and its resourceNames rule holds.
    ingress = str(MANIFESTS / "ingress-nginx-namespaced-rbac.yaml")
    partial = cluster.kubectl(*as_alice, "apply", "-n", ns, "-f", ingress, check=False)
    assert partial.returncode != 0
    assert "not currently held" in partial.stderr and '["ingressclasses"]' in partial.stderr
    assert 'role.rbac.authorization.k8s.io "ingress-nginx" not found' in partial.stderr
    assert "role.rbac.authorization.k8s.io/ingress-nginx-admission created" in partial.stdout
    cluster.kubectl("apply", "-n", ns, "-f", ingress)
    controller = f"--as=system:serviceaccount:{ns}:ingress-nginx"
    for question, answer in (
        (("update", "leases/ingress-nginx-leader"), "yes"),
        (("update", "leases/another-leader"), "no"),
        (("create", "leases"), "yes"),
        (("watch", "endpointslices.discovery.k8s.io"), "yes"),
        (("delete", "secrets"), "no"),
    ):
        asked = cluster.kubectl("auth", "can-i", *question, "-n", ns, controller, check=False)
        assert asked.stdout.strip() == answer, question

    manifest = str(MANIFESTS / "metrics-server-rbac.yaml")
    refused = cluster.kubectl(*as_alice, "apply", "-f", manifest, check=False)
    assert refused.returncode != 0 and "clusterroles.rbac.authorization.k8s.io" in refused.stderr
    try:
        cluster.kubectl("apply", "-f", manifest)
        # Its aggregated reader role widens view: anyone with view may read pod metrics.
        cluster.wait_for(
            lambda: cluster.kubectl("auth", "can-i", "list", "pods.metrics.k8s.io", "-n", ns,
                                    "--as=dave", check=False).stdout.strip() == "no",
            timeout=5, what="dave to have nothing yet",
        )  # fmt: skip
        cluster.kubectl("create", "rolebinding", "dave", "-n", ns, "--clusterrole=view",
                        "--user=dave")  # fmt: skip
        cluster.wait_for(
            lambda: cluster.kubectl("auth", "can-i", "list", "pods.metrics.k8s.io", "-n", ns,
                                    "--as=dave", check=False).stdout.strip() == "yes",
            timeout=15, what="view to aggregate the metrics reader",
        )  # fmt: skip
    finally:
        cluster.kubectl("delete", "-f", manifest, "--ignore-not-found", check=False)


def test_a_watch_from_a_pod_outlives_its_token_across_refreshes(
    provider: DockerProvider, client_image_tag: str, tmp_path: Path
):
    """Tokens live 20 s here: the kubelet renews them, the client re-reads the file (every
    minute, as it does), and a watch opened with the first token keeps delivering after
    the API server has stopped accepting that token (60 s of leeway, as upstream)."""
    config = tmp_path / "short-tokens.yaml"
    config.write_text(yaml.safe_dump({
        "kind": "Cluster", "apiVersion": "ku7s.dev/v1alpha1",
        "nodes": [{"role": "control-plane"}, {"role": "worker"}],
        "serviceAccountTokens": {"maxExpirationSeconds": SHORT_TOKEN_SECONDS},
    }))  # fmt: skip
    with new_cluster(provider, tmp_path, "tok", "--config", str(config)) as short:
        image = load_client_image(short, client_image_tag)
        short.kubectl("create", "namespace", "app")
        short.kubectl("create", "rolebinding", "view", "-n", "app", "--clusterrole=view",
                      "--serviceaccount=app:default")  # fmt: skip
        short.kubectl("run", "watcher", "-n", "app", f"--image={image}", "--", "python3", "-c",
                      WATCHER)  # fmt: skip
        short.kubectl("wait", "--for=condition=Ready", "pod/watcher", "-n", "app",
                      "--timeout=60s")  # fmt: skip

        def log() -> list[str]:
            return short.kubectl("logs", "watcher", "-n", "app").stdout.splitlines()

        short.wait_for(lambda: any(line.startswith("FIRST ") for line in log()), timeout=30,
                       what="the watcher to start")  # fmt: skip
        first = next(line for line in log() if line.startswith("FIRST ")).split()[1]
        server = yaml.safe_load(short.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        made = []
        started = time.monotonic()
        while api_request(server, "/api/v1/namespaces/app/configmaps", first)[0] == 200:
            assert time.monotonic() - started < SHORT_TOKEN_SECONDS + 90, "first token lives on"
            made.append(f"before-{len(made)}")
            short.kubectl("create", "configmap", made[-1], "-n", "app")
            time.sleep(5)
        assert api_request(server, "/api/v1/namespaces/app/configmaps", first)[0] == 401
        made.append("after-the-first-token-died")
        short.kubectl("create", "configmap", made[-1], "-n", "app")
        short.wait_for(lambda: f"EVENT ADDED {made[-1]}" in log(), timeout=10,
                       what="the old watch to deliver")  # fmt: skip
        lines = log()
        added = [line.split()[2] for line in lines if line.startswith("EVENT ADDED")]
        assert [name for name in added if name in made] == made
        assert "WATCH ENDED" not in lines
        assert [line for line in lines if line.startswith("TOKEN")].count(
            f"TOKEN {SHORT_TOKEN_SECONDS}"
        ) >= 4, "the kubelet renews the token every 16 s"
        assert not [line for line in lines if line.startswith("DENIED")]
