"""Hollow nodes beside a real one, on a cluster of their own (from the config file and from
`ku7s create node --hollow`): they join over the node protocol and are Ready, tainted and
labelled; pods that tolerate them run on paper (and say so), a Job's pods complete, logs
answer 400; partition and latency faults reach them; deleting one node or its container
(also one killed behind ku7s' back) removes them; bad input is refused in one line."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import HOLLOW_NODE_LABEL
from tests.e2e.conftest import chaos, injected, new_cluster, run_ku7s

CONFIG = """
kind: Cluster
apiVersion: ku7s.dev/v1alpha1
nodes: [{role: control-plane}, {role: worker}]
hollowNodes:
- {count: 12, labels: {rack: r1}, capacity: {cpu: 16, pods: 50}}
"""

WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: paper}
spec:
  replicas: 30
  selector: {matchLabels: {app: paper}}
  template:
    metadata: {labels: {app: paper}}
    spec:
      nodeSelector: {rack: r1}
      tolerations: [{key: node.ku7s.dev/hollow, operator: Exists, effect: NoSchedule}]
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: quick}
spec:
  completions: 4
  parallelism: 4
  template:
    metadata:
      annotations: {hollow.ku7s.dev/run-time: 1s}
    spec:
      restartPolicy: Never
      tolerations: [{key: node.ku7s.dev/hollow, operator: Exists, effect: NoSchedule}]
      nodeSelector: {rack: r1}
      containers: [{name: c, image: busybox, command: ["true"]}]
"""


def test_hollow_nodes_run_pods_on_paper_beside_a_real_node(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    config = tmp_path / "cluster.yaml"
    config.write_text(textwrap.dedent(CONFIG))
    with new_cluster(provider, tmp_path, "hollow", "--config", str(config)) as cluster:
        names = [f"{cluster.name}-hollow-1-{i}" for i in range(12)]
        added = run_ku7s(
            "create", "node", "--hollow", "--count", "2", "--untainted", "--name", cluster.name,
            env=cluster.env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        extra = added.stdout.split()
        assert extra == [f"{cluster.name}-hollow-2-0", f"{cluster.name}-hollow-2-1"]
        assert not cluster.get_json("node", extra[0])["spec"].get("taints")
        nodes = {
            n["metadata"]["name"]: n
            for n in cluster.get_json("nodes", "-l", f"{HOLLOW_NODE_LABEL},rack=r1")["items"]
        }
        assert sorted(nodes) == sorted(names)
        for node in nodes.values():
            assert cluster.node_ready()[node["metadata"]["name"]] == "True"
            assert node["metadata"]["labels"]["rack"] == "r1"
            assert node["status"]["capacity"]["cpu"] == "16"
            assert node["status"]["capacity"]["pods"] == "50"
            assert {"key": HOLLOW_NODE_LABEL, "value": "true", "effect": "NoSchedule"} in node[
                "spec"
            ]["taints"]
        listing = run_ku7s("get", "nodes", "--name", cluster.name, env=cluster.env)
        assert f"{names[0]}" in listing.stdout and "hollow" in listing.stdout

        manifest = tmp_path / "workloads.yaml"
        manifest.write_text(textwrap.dedent(WORKLOADS))
        cluster.kubectl("apply", "-f", str(manifest))
        cluster.kubectl("rollout", "status", "deployment/paper", "--timeout=90s", timeout=100)
        pods = cluster.get_json("pods", "-l", "app=paper")["items"]
        assert {p["spec"]["nodeName"] for p in pods} <= set(names)
        assert len({p["status"]["podIP"] for p in pods}) == 30
        for pod in pods:
            hollow = [c for c in pod["status"]["conditions"] if c["type"] == "ku7s.dev/Hollow"]
            assert hollow and hollow[0]["status"] == "True"
        cluster.kubectl(
            "wait", "--for=condition=Complete", "job/quick", "--timeout=60s", timeout=70
        )

        logs = cluster.kubectl("logs", pods[0]["metadata"]["name"], check=False)
        assert logs.returncode != 0 and "hollow node" in logs.stderr

        # A plain pod still lands on the real worker: the taint keeps hollow nodes apart.
        cluster.pinned_pod("real", f"{cluster.name}-worker")

        # Network faults reach hollow nodes: a partitioned one goes NotReady and comes
        # back at the revert; a latency below the grace period does not make it flap.
        cut, slow = names[2], names[3]
        partition = chaos(cluster, "partition", cut, "--duration", "12s")
        latency = chaos(cluster, "latency", slow, "--delay", "300ms", "--duration", "12s")
        injected(partition)
        injected(latency)
        cluster.wait_for(
            lambda: cluster.node_ready()[cut] != "True", 15, interval=0.5, what=f"{cut} NotReady"
        )
        assert cluster.node_ready()[slow] == "True"
        assert partition.wait(timeout=30) == 0 and latency.wait(timeout=30) == 0
        cluster.wait_for(
            lambda: cluster.node_ready()[cut] == "True", 20, interval=0.5, what=f"{cut} Ready"
        )
        refused = run_ku7s("chaos", "loss", slow, "--name", cluster.name, env=cluster.env)
        assert refused.returncode != 0
        assert "not simulated on hollow nodes" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1

        gone = names[0]
        deleted = run_ku7s("delete", "node", gone, env=cluster.env)
        assert deleted.returncode == 0, deleted.stderr
        assert gone not in cluster.node_ready()
        listing = run_ku7s("get", "nodes", "--name", cluster.name, env=cluster.env)
        assert f"{gone} " not in listing.stdout and names[1] in listing.stdout
        cluster.wait_for(
            lambda: all(
                p["spec"]["nodeName"] != gone
                for p in cluster.get_json("pods", "-l", "app=paper")["items"]
                if p["status"].get("phase") == "Running"
            ),
            60,
            interval=0.5,
            what=f"no running pod left on {gone}",
        )
        # A hollow container killed behind ku7s' back: its nodes go NotReady, and
        # `ku7s delete node` still cleans them up.
        container = f"{cluster.name}-hollow-2"
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        cluster.wait_for(
            lambda: all(cluster.node_ready()[n] != "True" for n in extra),
            20,
            interval=0.5,
            what=f"the nodes of the killed {container} NotReady",
        )
        deleted = run_ku7s("delete", "node", container, env=cluster.env)
        assert deleted.returncode == 0, deleted.stderr
        assert not [n for n in cluster.node_ready() if n.startswith(container)]
        assert not provider.container_exists(container)

        refused = run_ku7s(
            "create", "node", "--hollow", "--capacity", "gpus=1", "--name", cluster.name,
            env=cluster.env,
        )  # fmt: skip
        assert refused.returncode != 0
        assert "unknown resource 'gpus'" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
