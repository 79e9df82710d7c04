"""A fresh cluster as kubectl and the ku7s CLI see it."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from ku7s import pki
from ku7s.api import meta
from tests.e2e.conftest import KUBECTL_VERSIONS, Cluster, run_ku7s


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_lists_the_ready_workers(cluster: Cluster, version: str):
    result = cluster.kubectl("get", "nodes", version=version)
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATUS"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows == {name: "Ready" for name in cluster.workers}
    assert len(rows) == 3


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_reads_nodes_as_yaml(cluster: Cluster, version: str):
    nodes = yaml.safe_load(cluster.kubectl("get", "nodes", "-o", "yaml", version=version).stdout)
    assert len(nodes["items"]) == 3
    cidrs = set()
    for node in nodes["items"]:
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
        assert node["status"]["capacity"]["pods"] == "110"
        addresses = {a["type"] for a in node["status"]["addresses"]}
        assert {"InternalIP", "Hostname"} <= addresses
        cidrs.add(node["spec"]["podCIDR"])
    assert len(cidrs) == 3 and all(c.startswith("10.244.") for c in cidrs)


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
def test_kubectl_namespaces_readyz_and_version(cluster: Cluster, version: str):
    namespaces = cluster.kubectl("get", "ns", version=version).stdout
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert name in namespaces
    assert cluster.kubectl("get", "--raw", "/readyz", version=version).stdout.strip() == "ok"
    out = cluster.kubectl("version", version=version).stdout
    assert "Server Version" in out and "v1.33.0" in out.split("Server Version", 1)[1]


def test_every_node_holds_a_fresh_lease(cluster: Cluster):
    leases = cluster.get_json("leases", "-n", "kube-node-lease")["items"]
    assert {meta.name_of(lease) for lease in leases} == set(cluster.workers)
    for lease in leases:
        age = time.time() - meta.parse_time(lease["spec"]["renewTime"]).timestamp()
        assert age < lease["spec"]["leaseDurationSeconds"]


def test_images_are_preloaded_into_every_workers_containerd(cluster: Cluster):
    for worker in cluster.workers:

        def listing(worker: str = worker) -> list[str]:
            return subprocess.run(
                ["docker", "exec", worker, "ctr", "-n", "k8s.io", "images", "ls", "-q"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()

        cluster.wait_for(
            lambda: "ku7s.dev/pause:1" in listing(), timeout=30, what=f"images in {worker}"
        )
        assert "docker.io/library/busybox:latest" in listing()
        run = subprocess.run(
            [
                "docker",
                "exec",
                worker,
                "ctr",
                "-n",
                "k8s.io",
                "run",
                "--rm",
                "docker.io/library/busybox:latest",
                f"probe-{int(time.time())}",
                "echo",
                "runs",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.stdout.strip() == "runs", run.stderr


def _api(cluster: Cluster) -> tuple[str, bytes]:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    entry = next(c for c in config["clusters"] if c["name"] == f"ku7s-{cluster.name}")
    return entry["cluster"]["server"], base64.b64decode(
        entry["cluster"]["certificate-authority-data"]
    )


def test_requests_without_a_credential_are_anonymous(cluster: Cluster):
    """As upstream with anonymous auth on: system:anonymous, whom RBAC refuses all but the
    public-info paths; a bearer token that checks out as nobody is a 401."""
    server, ca = _api(cluster)
    context = ssl.create_default_context(cadata=ca.decode())
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server}/api/v1/nodes", context=context, timeout=5)
    assert caught.value.code == 403
    status = json.loads(caught.value.read())
    assert (status["kind"], status["reason"]) == ("Status", "Forbidden")
    assert 'User "system:anonymous" cannot list resource "nodes"' in status["message"]
    with urllib.request.urlopen(f"{server}/readyz", context=context, timeout=5) as ready:
        assert ready.status == 200
    request = urllib.request.Request(
        f"{server}/api/v1/nodes", headers={"Authorization": "Bearer not-a-token"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, context=context, timeout=5)
    assert caught.value.code == 401


def test_a_certificate_from_another_ca_is_refused(cluster: Cluster, tmp_path):
    server, ca = _api(cluster)
    stranger = pki.CertificateAuthority.create("stranger").issue_client(
        "intruder", ("system:masters",)
    )
    (tmp_path / "pair.pem").write_bytes(stranger.cert_pem + stranger.key_pem)
    context = ssl.create_default_context(cadata=ca.decode())
    context.load_cert_chain(tmp_path / "pair.pem")
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        urllib.request.urlopen(f"{server}/api/v1/nodes", context=context, timeout=5)


def test_cli_lists_clusters_and_nodes(cluster: Cluster):
    clusters = run_ku7s("get", "clusters", env=cluster.env)
    assert cluster.name in clusters.stdout.split()
    nodes = run_ku7s("get", "nodes", "--name", cluster.name, env=cluster.env)
    rows = [line.split() for line in nodes.stdout.splitlines()]
    assert [name for name, _ in rows] == [f"{cluster.name}-control-plane", *sorted(cluster.workers)]
    assert {provider for _, provider in rows} == {"docker"}


def test_get_and_export_kubeconfig(cluster: Cluster, tmp_path):
    printed = run_ku7s("get", "kubeconfig", "--name", cluster.name, env=cluster.env)
    assert printed.returncode == 0
    own = tmp_path / "printed.kubeconfig"
    own.write_text(printed.stdout)
    other = Cluster(cluster.name, own, tmp_path / "cache", cluster.provider)
    assert "Ready" in other.kubectl("get", "nodes").stdout
    exported = tmp_path / "exported.kubeconfig"
    result = run_ku7s(
        "export", "kubeconfig", "--name", cluster.name, env={"KUBECONFIG": str(exported)}
    )
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(exported.read_text())
    assert data["current-context"] == f"ku7s-{cluster.name}"
    internal = run_ku7s("get", "kubeconfig", "--name", cluster.name, "--internal", env=cluster.env)
    assert f"https://{cluster.name}-control-plane:6443" in internal.stdout


def test_the_python_client_lists_nodes_and_reads_the_version(cluster: Cluster):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    nodes = client.CoreV1Api(api_client).list_node().items
    assert {n.metadata.name for n in nodes} == set(cluster.workers)
    for node in nodes:
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        assert ready[0].status == "True"
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.33.0")
