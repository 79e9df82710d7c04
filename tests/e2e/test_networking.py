"""Real packets between pods, nodes and the host: the pod network across nodes, Services
through kube-proxy's iptables rules, and the cluster DNS. Each test works in a namespace of
its own on the shared cluster."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ku7s.names import network_name
from tests.e2e.conftest import Cluster, unique

#: A busybox web server on 8080: / answers the pod's name, /cgi-bin/ip the client's address.
#: Ready while /tmp/ready exists.
ECHO_SERVER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      NODE_SELECTOR
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox
        ports: [{containerPort: 8080, name: http}]
        command: [sh, -c]
        args:
        - |
          mkdir -p /www/cgi-bin && hostname > /www/index.html && touch /tmp/ready
          printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' \\
            > /www/cgi-bin/ip
          chmod +x /www/cgi-bin/ip
          exec httpd -f -p 0.0.0.0:8080 -h /www
        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 1
          failureThreshold: 1
"""


STATEFUL_SET = """
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
"""


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("net") as name:
        yield name


def apply(cluster: Cluster, ns: str, manifest: str, tmp_path: Path) -> None:
    path = tmp_path / f"{unique('m')}.yaml"
    path.write_text(textwrap.dedent(manifest))
    cluster.kubectl("apply", "-n", ns, "-f", str(path))


def echo_server(
    cluster: Cluster, ns: str, tmp_path: Path, replicas: int = 2, node: str | None = None
) -> list[dict]:
    selector = f"nodeSelector: {{kubernetes.io/hostname: {node}}}" if node else ""
    manifest = ECHO_SERVER.replace("REPLICAS", str(replicas)).replace("NODE_SELECTOR", selector)
    apply(cluster, ns, manifest, tmp_path)
    cluster.kubectl("rollout", "status", "deploy/echo", "-n", ns, "--timeout=60s", timeout=70)
    return [
        p
        for p in cluster.get_json("pods", "-n", ns, "-l", "app=echo")["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def client_pod(cluster: Cluster, ns: str, node: str) -> str:
    cluster.pinned_pod("client", node, ns)
    return "client"


def in_pod(cluster: Cluster, ns: str, pod: str, script: str, check: bool = True) -> str:
    result = cluster.kubectl("exec", pod, "-n", ns, "--", "sh", "-c", script, check=check)
    return result.stdout.strip()


def fetch(cluster: Cluster, ns: str, pod: str, url: str) -> str:
    """GET from inside a pod, as scripts do it: busybox wget with a timeout."""
    return in_pod(cluster, ns, pod, f"wget -T 5 -qO- {url}")


def iptables(cluster: Cluster, node: str) -> str:
    return subprocess.run(
        ["docker", "exec", node, "iptables-save"], capture_output=True, text=True, check=True
    ).stdout


def node_ips(cluster: Cluster) -> dict[str, str]:
    return {
        n["metadata"]["name"]: next(
            a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"
        )
        for n in cluster.get_json("nodes")["items"]
    }


def http_get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode().strip()


def test_pods_reach_a_pod_on_another_node_by_ip_cluster_ip_and_name(
    cluster: Cluster, ns: str, tmp_path: Path
):
    first, second = sorted(cluster.workers)[:2]
    [server] = echo_server(cluster, ns, tmp_path, replicas=1, node=second)
    cluster.kubectl("expose", "deploy/echo", "-n", ns, "--port=80", "--target-port=http")
    client_pod(cluster, ns, first)
    name = server["metadata"]["name"]
    assert fetch(cluster, ns, "client", f"http://{server['status']['podIP']}:8080/") == name
    cluster_ip = cluster.get_json("svc", "echo", "-n", ns)["spec"]["clusterIP"]
    assert fetch(cluster, ns, "client", f"http://{cluster_ip}/") == name
    assert fetch(cluster, ns, "client", "http://echo/") == name
    assert fetch(cluster, ns, "client", f"http://echo.{ns}.svc.cluster.local/") == name
    # The pod's address is kept between nodes: only traffic leaving the cluster is masqueraded.
    client_ip = cluster.get_json("pod", "client", "-n", ns)["status"]["podIP"]
    assert (
        fetch(cluster, ns, "client", f"http://{server['status']['podIP']}:8080/cgi-bin/ip")
        == client_ip
    )
    lookup = in_pod(cluster, ns, "client", "nslookup kubernetes.default")
    api_ip = cluster.get_json("svc", "kubernetes", "-n", "default")["spec"]["clusterIP"]
    assert f"Address: {api_ip}" in lookup
    # The kubernetes Service reaches the API server, whose certificate names the Service IP.
    client = cluster.get_json("pod", "client", "-n", ns)
    container = client["status"]["containerStatuses"][0]["containerID"].split("//")[1]
    tasks = subprocess.run(
        ["docker", "exec", first, "ctr", "-n", "k8s.io", "task", "ls"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pid = next(line.split()[1] for line in tasks.splitlines() if line.startswith(container))
    script = (
        "import ssl, urllib.request; "
        "c = ssl.create_default_context(cafile='/etc/ku7s/pki/ca.crt'); "
        f"print(urllib.request.urlopen('https://{api_ip}/version', context=c, timeout=5).read())"
    )
    version = subprocess.run(
        ["docker", "exec", first, "nsenter", "-n", "-t", pid, "python3", "-c", script],
        capture_output=True,
        text=True,
    )
    assert '"gitVersion"' in version.stdout, version.stderr
    missing = cluster.kubectl(
        "exec", "client", "-n", ns, "--", "nslookup", f"nothing.{ns}.svc.cluster.local", check=False
    )
    assert missing.returncode != 0 and "NXDOMAIN" in missing.stdout + missing.stderr


def test_a_headless_service_resolves_to_the_ready_pods(cluster: Cluster, ns: str, tmp_path: Path):
    servers = echo_server(cluster, ns, tmp_path, replicas=2)
    cluster.kubectl(
        "create", "service", "clusterip", "echo", "-n", ns, "--clusterip=None", "--tcp=8080"
    )
    cluster.kubectl("label", "svc", "echo", "-n", ns, "app=echo", "--overwrite")
    cluster.kubectl("set", "selector", "svc", "echo", "-n", ns, "app=echo")
    client_pod(cluster, ns, sorted(cluster.workers)[0])
    wanted = {p["status"]["podIP"] for p in servers}

    def resolved() -> set[str]:
        text = in_pod(cluster, ns, "client", "nslookup -type=a echo", check=False)
        return {
            line.split()[-1]
            for line in text.splitlines()
            if line.startswith("Address:") and not line.endswith(":53")  # the server's own
        }

    cluster.wait_for(lambda: resolved() == wanted, timeout=20, interval=0.5, what="both pod IPs")

    # A StatefulSet's pods are named under their headless Service.
    apply(cluster, ns, STATEFUL_SET, tmp_path)
    cluster.kubectl("rollout", "status", "sts/db", "-n", ns, "--timeout=60s", timeout=70)
    db0 = cluster.get_json("pod", "db-0", "-n", ns)["status"]["podIP"]
    cluster.wait_for(
        lambda: (
            f"Address: {db0}"
            in in_pod(
                cluster, ns, "client", f"nslookup db-0.db.{ns}.svc.cluster.local", check=False
            )
        ),
        timeout=20,
        interval=0.5,
        what="db-0's own name",
    )
    srv = in_pod(cluster, ns, "client", f"nslookup -type=srv _pg._tcp.db.{ns}.svc.cluster.local")
    assert f"db-0.db.{ns}.svc.cluster.local" in srv and "5432" in srv


def test_node_ports_answer_on_every_node_and_local_policy_keeps_the_client(
    cluster: Cluster, ns: str, tmp_path: Path
):
    echo_server(cluster, ns, tmp_path, replicas=1)
    cluster.kubectl(
        "expose", "deploy/echo", "-n", ns, "--port=80", "--target-port=http", "--type=NodePort"
    )
    service = cluster.get_json("svc", "echo", "-n", ns)
    port = service["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    ips = node_ips(cluster)

    def answers(ip: str) -> bool:
        try:
            return http_get(f"http://{ip}:{port}/", timeout=2).startswith("echo-")
        except (urllib.error.URLError, TimeoutError, OSError):
            return False  # that node's kube-proxy has not synced the new Service yet

    for node, ip in ips.items():
        cluster.wait_for(lambda ip=ip: answers(ip), timeout=10, what=f"node port on {node}")
    # Cluster policy: the pod sees a node's address. Local: the host's own.
    cluster.kubectl(
        "patch", "svc", "echo", "-n", ns, "-p", '{"spec":{"externalTrafficPolicy":"Local"}}'
    )
    [pod] = cluster.get_json("pods", "-n", ns, "-l", "app=echo")["items"]
    here = ips[pod["spec"]["nodeName"]]
    gateway = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", network_name(cluster.name)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]["IPAM"]["Config"][0]["Gateway"]
    cluster.wait_for(
        lambda: http_get(f"http://{here}:{port}/cgi-bin/ip") == gateway,
        timeout=10,
        what="the host's address seen by the pod",
    )
    elsewhere = next(ip for node, ip in ips.items() if ip != here)

    def dropped() -> bool:  # no endpoint there (once that node's kube-proxy has synced)
        try:
            http_get(f"http://{elsewhere}:{port}/", timeout=1)
        except (urllib.error.URLError, TimeoutError, OSError):
            return True
        return False

    cluster.wait_for(dropped, timeout=10, what="a node without an endpoint to drop")
    taken = cluster.kubectl(
        "create",
        "service",
        "nodeport",
        "again",
        "-n",
        ns,
        "--tcp=80",
        f"--node-port={port}",
        check=False,
    )
    assert taken.returncode != 0 and "provided port is already allocated" in taken.stderr


def test_traffic_avoids_an_unready_endpoint_and_a_deleted_service_leaves_no_rules(
    cluster: Cluster, ns: str, tmp_path: Path
):
    servers = echo_server(cluster, ns, tmp_path, replicas=2)
    cluster.kubectl("expose", "deploy/echo", "-n", ns, "--port=80", "--target-port=http")
    client_pod(cluster, ns, sorted(cluster.workers)[0])
    names = {p["metadata"]["name"] for p in servers}
    seen = {fetch(cluster, ns, "client", "http://echo/") for _ in range(20)}
    assert seen == names  # random balancing reaches both
    sick = sorted(names)[0]
    cluster.kubectl("exec", sick, "-n", ns, "--", "rm", "/tmp/ready")
    started = time.monotonic()

    def avoided() -> bool:
        answers = in_pod(
            cluster,
            ns,
            "client",
            "for i in 1 2 3 4 5 6 7 8; do wget -T 5 -qO- http://echo/; done",
        )
        return sick not in answers.split()

    cluster.wait_for(avoided, timeout=10, interval=0.1, what="traffic to avoid the unready pod")
    took = time.monotonic() - started
    # Within 2 s of the probe's file going (plus one round of eight requests to see it).
    assert took < 2.5, f"the unready pod still got traffic {took:.2f} s later"

    uid = cluster.get_json("svc", "echo", "-n", ns)["metadata"]["uid"]
    assert all(f"{ns}/echo" in iptables(cluster, w) for w in cluster.workers)
    cluster.kubectl("delete", "svc", "echo", "-n", ns)
    cluster.wait_for(
        lambda: all(f"{ns}/echo" not in iptables(cluster, w) for w in cluster.workers),
        timeout=10,
        what="the Service's rules gone from every node",
    )
    cluster.wait_for(
        lambda: (
            not [
                s
                for s in cluster.get_json("endpointslices", "-n", ns)["items"]
                if any(r["uid"] == uid for r in s["metadata"].get("ownerReferences") or [])
            ]
        ),
        timeout=10,
        what="the Service's EndpointSlices collected",
    )


def test_scaled_to_zero_refuses_at_once_and_client_ip_affinity_sticks(
    cluster: Cluster, ns: str, tmp_path: Path
):
    echo_server(cluster, ns, tmp_path, replicas=3)
    cluster.kubectl("expose", "deploy/echo", "-n", ns, "--port=80", "--target-port=http")
    cluster.kubectl(
        "patch", "svc", "echo", "-n", ns, "-p", '{"spec":{"sessionAffinity":"ClientIP"}}'
    )
    client_pod(cluster, ns, sorted(cluster.workers)[0])
    cluster.wait_for(
        lambda: (
            len(
                set(
                    in_pod(
                        cluster,
                        ns,
                        "client",
                        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://echo/; done",
                    ).split()
                )
            )
            == 1
        ),
        timeout=10,
        what="one pod answering every request",
    )
    cluster.kubectl("scale", "deploy/echo", "-n", ns, "--replicas=0")
    cluster.wait_for(
        lambda: not cluster.get_json("pods", "-n", ns, "-l", "app=echo")["items"],
        timeout=30,
        what="the pods gone",
    )

    def refused() -> bool:
        started = time.monotonic()
        result = cluster.kubectl(
            "exec", "client", "-n", ns, "--", "wget", "-qO-", "http://echo/", check=False
        )
        return "Connection refused" in result.stderr and time.monotonic() - started < 3

    cluster.wait_for(refused, timeout=10, what="connection refused, not a hang")


def test_a_load_balancer_serves_from_the_host_and_is_released_with_its_type(
    cluster: Cluster, ns: str, tmp_path: Path
):
    echo_server(cluster, ns, tmp_path, replicas=2)
    cluster.kubectl(
        "expose", "deploy/echo", "-n", ns, "--port=80", "--target-port=http", "--type=LoadBalancer"
    )

    def ingress() -> list:
        status = cluster.get_json("svc", "echo", "-n", ns)["status"]
        return status.get("loadBalancer", {}).get("ingress") or []

    cluster.wait_for(ingress, timeout=20, what="a load balancer address")
    ip = ingress()[0]["ip"]
    assert {http_get(f"http://{ip}/") for _ in range(10)} <= {
        p["metadata"]["name"] for p in cluster.get_json("pods", "-n", ns)["items"]
    }
    uid = cluster.get_json("svc", "echo", "-n", ns)["metadata"]["uid"]

    def balancers() -> list[str]:
        return [
            c.name or ""
            for c in cluster.provider.client.containers.list(
                all=True, filters={"label": f"io.ku7s.service-uid={uid}"}
            )
        ]

    assert len(balancers()) == 1
    cluster.kubectl("patch", "svc", "echo", "-n", ns, "-p", '{"spec":{"type":"ClusterIP"}}')
    cluster.wait_for(
        lambda: not ingress() and not balancers(), timeout=20, what="the load balancer released"
    )
