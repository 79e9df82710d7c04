"""Nodes that come and go under running workloads, on a cluster of their own: a DaemonSet
reaches a node added later, and the pods of a stopped worker run elsewhere soon after."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import Cluster, new_cluster, run_ku7s

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
"""


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
    with new_cluster(provider, tmp_path, "fail", "--workers", "2") as cluster:
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
