"""Nodes that come and go under running workloads, on a cluster of their own: a DaemonSet
reaches a node added later and the pod network routes to it; the pods of a stopped worker
run elsewhere soon after, a LoadBalancer keeps answering, and once the worker's container is
removed the mock cloud deletes its Node and the routes to it go. A pod whose ku7s-disk was
on a stopped worker runs on another one with its data once the worker is out of service."""

from __future__ import annotations

import json
import socket
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import Cluster, new_cluster, run_ku7s
from tests.e2e.test_volumes import DISK_STATEFUL

MANIFEST = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: everywhere}
spec:
  selector: {matchLabels: {app: everywhere}}
  template:
    metadata: {labels: {app: everywhere}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 3
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, nodePort: 30080}]
"""

CONFIG = """
kind: Cluster
apiVersion: ku7s.dev/v1alpha1
cloud: {zones: 2}
nodes:
- role: control-plane
- role: worker
  extraPortMappings: [{containerPort: 30080, hostPort: HOST_PORT, listenAddress: 127.0.0.1}]
- role: worker
"""


def routes(node: str) -> dict[str, str]:
    """The pod CIDR routes on a node -> their gateway."""
    out = subprocess.run(
        ["docker", "exec", node, "ip", "-j", "route", "show", "proto", "77"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {r["dst"]: r["gateway"] for r in json.loads(out or "[]")}


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def running_on(cluster: Cluster, selector: str) -> dict[str, str]:
    """Running, not terminating pods of selector -> their node."""
    pods = cluster.get_json("pods", "-l", selector)["items"]
    return {
        p["metadata"]["name"]: p["spec"]["nodeName"]
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    }


def test_daemonset_reaches_new_nodes_and_pods_leave_a_stopped_worker(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    host_port = _free_port()
    config = tmp_path / "cluster.yaml"
    config.write_text(textwrap.dedent(CONFIG).replace("HOST_PORT", str(host_port)))
    with new_cluster(provider, tmp_path, "fail", "--config", str(config)) as cluster:
        nodes = cluster.get_json("nodes")["items"]
        assert {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes} == {
            "local-a",
            "local-b",
        }
        assert {n["spec"]["providerID"] for n in nodes} == {
            f"ku7s://{cluster.name}/{n['metadata']['name']}" for n in nodes
        }
        manifest = tmp_path / "workloads.yaml"
        manifest.write_text(textwrap.dedent(MANIFEST))
        cluster.kubectl("apply", "-f", str(manifest))
        cluster.kubectl("rollout", "status", "ds/everywhere", "--timeout=60s", timeout=70)
        added = run_ku7s("create", "node", "--name", cluster.name, env=cluster.env)
        assert added.returncode == 0, added.stderr
        new_node = added.stdout.strip()
        cluster.wait_for(
            lambda: new_node in running_on(cluster, "app=everywhere").values(),
            timeout=60,
            what=f"a daemon pod on {new_node}",
        )
        assert len(running_on(cluster, "app=everywhere")) == 3
        new_cidr = cluster.get_json("node", new_node)["spec"]["podCIDR"]
        cluster.wait_for(
            lambda: all(new_cidr in routes(w) for w in cluster.workers if w != new_node),
            timeout=10,
            what="routes to the new node's pods",
        )
        cluster.kubectl("rollout", "status", "deploy/web", "--timeout=60s", timeout=70)
        assert "Welcome to nginx" in http_get(f"http://127.0.0.1:{host_port}/")  # extraPortMappings
        cluster.wait_for(
            lambda: cluster.get_json("svc", "web")["status"].get("loadBalancer", {}).get("ingress"),
            timeout=20,
            what="the load balancer's address",
        )
        lb_ip = cluster.get_json("svc", "web")["status"]["loadBalancer"]["ingress"][0]["ip"]
        assert "Welcome to nginx" in http_get(f"http://{lb_ip}/")

        cluster.kubectl("rollout", "status", "deploy/app", "--timeout=60s", timeout=70)
        placement = running_on(cluster, "app=app")
        victim = next(iter(placement.values()))
        started = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "0", victim], check=True, capture_output=True)

        def moved() -> bool:
            now = running_on(cluster, "app=app")
            return len([n for n in now.values() if n != victim]) == 3

        cluster.wait_for(moved, timeout=40, interval=0.5, what="replacements elsewhere")
        took = time.monotonic() - started
        assert took < 20, f"pods ran elsewhere only after {took:.1f}s"
        taints = cluster.get_json("node", victim)["spec"].get("taints", [])
        assert {t["key"] for t in taints} >= {"node.kubernetes.io/unreachable"}
        cluster.kubectl("rollout", "status", "deploy/web", "--timeout=60s", timeout=70)
        for _ in range(6):  # every request answered, whichever node the balancer tries
            assert "Welcome to nginx" in http_get(f"http://{lb_ip}/")

        victim_cidr = cluster.get_json("node", victim)["spec"]["podCIDR"]
        subprocess.run(["docker", "rm", "-f", victim], check=True, capture_output=True)
        cluster.wait_for(
            lambda: (
                victim not in {n["metadata"]["name"] for n in cluster.get_json("nodes")["items"]}
            ),
            timeout=30,
            interval=0.5,
            what="the cloud to delete the Node of the removed container",
        )
        cluster.wait_for(
            lambda: all(victim_cidr not in routes(w) for w in cluster.workers),
            timeout=10,
            what="the routes to the removed node gone",
        )
        cluster.kubectl("delete", "svc", "web")
        cluster.wait_for(
            lambda: not [c for c in provider.cluster_containers(cluster.name) if "-lb-" in c],
            timeout=20,
            what="the load balancer container removed with its Service",
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_disk_pod_whose_node_is_stopped_comes_back_on_another_node_with_its_data(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    manifest = tmp_path / "disk.yaml"
    manifest.write_text(textwrap.dedent(DISK_STATEFUL))
    with new_cluster(provider, tmp_path, "disk", "--workers", "2") as cluster:
        cluster.kubectl("apply", "-f", str(manifest))
        cluster.kubectl("rollout", "status", "statefulset/disk", "--timeout=90s", timeout=100)
        victim = cluster.get_json("pod", "disk-0")["spec"]["nodeName"]
        subprocess.run(["docker", "stop", "-t", "0", victim], check=True, capture_output=True)
        cluster.wait_for(
            lambda: cluster.node_ready().get(victim) != "True",
            30,
            interval=0.3,
            what=f"{victim} NotReady",
        )
        # The admin says the node is down for good (upstream's non-graceful node shutdown):
        # its pod goes, and its disk is free to attach elsewhere.
        cluster.kubectl(
            "taint", "node", victim, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"
        )

        def elsewhere() -> bool:
            pod = cluster.get_json("pod", "disk-0")
            ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            return pod["spec"].get("nodeName") != victim and ready.get("Ready") == "True"

        cluster.wait_for(elsewhere, 60, interval=0.5, what="disk-0 running on another node")
        boots = cluster.kubectl("exec", "disk-0", "--", "cat", "/data/boots").stdout.split()
        assert boots == ["disk-0", "disk-0"]
        [attachment] = cluster.get_json("volumeattachments")["items"]
        assert (
            attachment["spec"]["nodeName"] == cluster.get_json("pod", "disk-0")["spec"]["nodeName"]
        )
