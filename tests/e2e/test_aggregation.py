"""An aggregated API served by a pod, as metrics-server and other extension API servers
are installed: the server reads the front proxy's CA from kube-system's
extension-apiserver-authentication ConfigMap (through its own RBAC, as they all do),
accepts only requests carrying the front proxy's certificate, and learns the user from the
X-Remote-* headers. kubectl lists its kind, and an APIService pointing nowhere is shown
unavailable with its reason."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Cluster, unique
from tests.e2e.https_pods import https_pod

#: Serves group/v1 with one namespaced kind, Hello; each Hello says who asked.
SERVER = """
import http.server, json, os, ssl, tempfile
from kubernetes import client, config
config.load_incluster_config()
authentication = client.CoreV1Api().read_namespaced_config_map(
    "extension-apiserver-authentication", "kube-system").data
allowed = json.loads(authentication["requestheader-allowed-names"])
group = os.environ["GROUP"]

class API(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        name = dict(x[0] for x in peer.get("subject", ())).get("commonName")
        if name not in allowed:
            return self.answer(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "message": "not the front proxy", "code": 401})
        path = self.path.split("?")[0].rstrip("/")
        if path == f"/apis/{group}/v1":
            return self.answer(200, {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/v1", "resources": [{"name": "hellos",
                "singularName": "hello", "namespaced": True, "kind": "Hello",
                "verbs": ["get", "list"]}]})
        parts = path.split("/")
        namespace = parts[5] if len(parts) > 5 and parts[4] == "namespaces" else "default"
        hello = {"apiVersion": f"{group}/v1", "kind": "Hello",
                 "metadata": {"name": "from-" + self.headers["X-Remote-User"].replace(":", "-"),
                              "namespace": namespace, "creationTimestamp": "2026-01-01T00:00:00Z"},
                 "groups": self.headers.get_all("X-Remote-Group")}
        self.answer(200, {"apiVersion": f"{group}/v1", "kind": "HelloList",
                          "metadata": {"resourceVersion": "1"}, "items": [hello]})

server = http.server.HTTPServer(("", 8443), API)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/tls/tls.crt", "/tls/tls.key")
with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as ca:
    ca.write(authentication["requestheader-client-ca-file"])
context.load_verify_locations(ca.name)
context.verify_mode = ssl.CERT_REQUIRED
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def objects(group: str, ns: str, image: str) -> list[dict]:
    server = https_pod("hellos", ns, SERVER, image, serviceAccountName="hellos")
    deployment = next(o for o in server.objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "GROUP", "value": group}]  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "hellos",
                                                                   "namespace": ns}},
        # as metrics-server's manifest binds it
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": f"{ns}-auth-reader", "namespace": "kube-system"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "extension-apiserver-authentication-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "hellos", "namespace": ns}]},
        *server.objects,
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": f"v1.{group}"},
         "spec": {"group": group, "version": "v1", "groupPriorityMinimum": 100,
                  "versionPriority": 100, "caBundle": server.ca_bundle,
                  "service": {"namespace": ns, "name": "hellos"}}},
    ]  # fmt: skip


@pytest.fixture
def aggregated(cluster: Cluster, client_image: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    ns, group = unique("hellos"), f"{unique('h')}.example.com"
    manifest = tmp_path / "hellos.yaml"
    manifest.write_text(yaml.safe_dump_all(objects(group, ns, client_image)))
    try:
        cluster.kubectl("apply", "-f", str(manifest))
        cluster.kubectl("rollout", "status", "deployment/hellos", "-n", ns, "--timeout=120s",
                        timeout=130)  # fmt: skip
        yield group, ns
    finally:
        cluster.kubectl("delete", "-f", str(manifest), "--ignore-not-found", "--wait=false",
                        check=False)  # fmt: skip
        shutil.rmtree(cluster.cache_dir, ignore_errors=True)


def available(cluster: Cluster, name: str) -> dict:
    """The APIService's Available condition ({} while it has none)."""
    conditions = (cluster.get_json("apiservice", name).get("status") or {}).get("conditions")
    return next((c for c in conditions or [] if c["type"] == "Available"), {})


def test_an_aggregated_api_served_by_a_pod(cluster: Cluster, aggregated: tuple[str, str]):
    group, ns = aggregated
    cluster.wait_for(lambda: available(cluster, f"v1.{group}").get("status") == "True",
                     timeout=30, interval=0.5, what="the APIService to be available")  # fmt: skip
    listed = cluster.kubectl("get", f"hellos.{group}", "-n", ns).stdout
    assert "from-kubernetes-admin" in listed
    raw = cluster.get_json(f"hellos.{group}", "-n", ns)
    assert raw["items"][0]["groups"] == ["system:masters", "system:authenticated"]
    resources = cluster.kubectl("api-resources", f"--api-group={group}").stdout
    assert "hellos" in resources
    table = cluster.kubectl("get", "apiservice", f"v1.{group}", "v1.apps").stdout.split("\n")
    assert table[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    assert table[1].split()[:3] == [f"v1.{group}", f"{ns}/hellos", "True"]
    assert table[2].split()[:3] == ["v1.apps", "Local", "True"]


def test_an_api_service_pointing_nowhere_is_unavailable(cluster: Cluster, tmp_path: Path):
    group = f"{unique('nowhere')}.example.com"
    name = f"v1.{group}"
    manifest = tmp_path / "nowhere.yaml"
    manifest.write_text(yaml.safe_dump({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": name},
        "spec": {"group": group, "version": "v1", "groupPriorityMinimum": 100,
                 "versionPriority": 100, "insecureSkipTLSVerify": True,
                 "service": {"namespace": "default", "name": "nothing-here"}}}))  # fmt: skip
    try:
        cluster.kubectl("apply", "-f", str(manifest))
        cluster.wait_for(
            lambda: available(cluster, name).get("reason") == "ServiceNotFound",
            timeout=30, interval=0.5, what="the APIService to be unavailable",
        )  # fmt: skip
        condition = available(cluster, name)
        assert condition["status"] == "False"
        assert condition["message"] == 'service/nothing-here in "default" is not present'
        raw = cluster.kubectl("get", "--raw", f"/apis/{group}/v1/things", check=False)
        assert raw.returncode != 0
        assert "the server is currently unable to handle the request" in raw.stderr
    finally:
        cluster.kubectl("delete", "-f", str(manifest), "--ignore-not-found", check=False)
        shutil.rmtree(cluster.cache_dir, ignore_errors=True)
