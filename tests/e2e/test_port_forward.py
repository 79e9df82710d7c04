"""Port-forward carries what a direct connection carries: 100 MB through one connection
and several connections at once, with kubectl's SPDY (1.27), kubectl's WebSocket tunnel
(1.33) and the Python client's portforward()."""

from __future__ import annotations

import hashlib
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.stream import portforward

from tests.e2e.conftest import Cluster, free_port, unique

SIZE = 100 * 2**20


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> Iterator[tuple[str, str]]:
    """An nginx pod serving a 100 MB file of random bytes: (namespace, its SHA-256)."""
    ns = unique("pf")
    cluster.kubectl("create", "namespace", ns)
    cluster.pinned_pod("web", sorted(cluster.workers)[0], ns, image="nginx", command=())
    made = cluster.kubectl(
        "exec", "web", "-n", ns, "--", "sh", "-c",
        f"head -c {SIZE} /dev/urandom > /usr/share/nginx/html/big && sha256sum "
        "/usr/share/nginx/html/big",
        timeout=120,
    )  # fmt: skip
    try:
        yield ns, made.stdout.split()[0]
    finally:
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_kubectl_forwards_100_mb_and_many_connections(cluster: Cluster, web, version: str):
    ns, digest = web
    port = free_port()
    forward = subprocess.Popen(
        [*cluster.kubectl_argv(version), "port-forward", "-n", ns, "pod/web", f"{port}:80"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert forward.stdout is not None
        assert "Forwarding from" in forward.stdout.readline()
        big = get(f"http://127.0.0.1:{port}/big")
        assert (len(big), hashlib.sha256(big).hexdigest()) == (SIZE, digest)
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(lambda _: get(f"http://127.0.0.1:{port}/"), range(32)))
        assert all(b"Welcome to nginx!" in page for page in pages)
    finally:
        forward.kill()
        forward.wait()


def python_get(core: k8s.CoreV1Api, ns: str, path: str) -> bytes:
    """One HTTP GET through the Python client's port-forward of port 80."""
    forward = portforward(core.connect_get_namespaced_pod_portforward, "web", ns, ports="80")
    try:
        sock = forward.socket(80)
        sock.setblocking(True)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: web\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
        sock.close()
        answer = b"".join(chunks)
        assert forward.error(80) is None
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        return body
    finally:
        forward.close()


def test_the_python_client_forwards_100_mb_and_sessions_at_once(cluster: Cluster, web):
    ns, digest = web
    core = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    big = python_get(core, ns, "/big")
    assert (len(big), hashlib.sha256(big).hexdigest()) == (SIZE, digest)
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: python_get(core, ns, "/"), range(16)))
    assert all(b"Welcome to nginx!" in page for page in pages)
