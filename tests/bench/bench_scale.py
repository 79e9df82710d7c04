"""Benchmark: a cluster of hollow nodes beside one real worker, as issue 20 measures it.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_scale.py                       # 1,000 nodes, 10,000 pods
    BENCH_NODES=200 BENCH_DEPLOYMENTS=10 python tests/bench/bench_scale.py

1. `ku7s create node --hollow --count N` until all are Ready and initialized (goal: 1,000 in
   <= 60 s; KWOK's anchor: 1,000 nodes on a laptop);
2. memory: the hollow containers per node beyond the first (goal <= 1 MiB), the control
   plane (goal <= 2 GiB with 10,000 pods);
3. the control plane's CPU while idle at that size, over 20 s (goal <= 50 % of one core);
4. D Deployments x R replicas tolerating the hollow taint, until every pod is Running
   (goal: 10,000 in <= 5 min) and the rate pods were bound at (goal >= 300 pods/s);
5. API latency at that size, p99 of 20 calls each: a single pod read, a namespace's pods,
   all pods (upstream's SLOs: 1 s, 5 s, 30 s).
The floor printed beside them: etcd's raw write rate in the same run (etcdctl, 1,000 puts).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import docker
from bench_apiserver import etcd_floor
from bench_cluster import ku7s, memory_mib

from ku7s.api import meta
from ku7s.client.rest import APIClient

NODES = int(os.environ.get("BENCH_NODES", "1000"))
DEPLOYMENTS = int(os.environ.get("BENCH_DEPLOYMENTS", "100"))
REPLICAS = int(os.environ.get("BENCH_REPLICAS", "100"))
CONFIG = """
kind: Cluster
apiVersion: ku7s.dev/v1alpha1
networking: {podSubnet: 10.240.0.0/14}
nodes: [{role: control-plane}, {role: worker}]
"""


def cpu_share(client: docker.DockerClient, name: str, seconds: float) -> float:
    """The container's CPU over the period, as a share of one core."""

    def used() -> tuple[float, float]:
        stats = client.containers.get(name).stats(stream=False)
        assert isinstance(stats, dict)
        return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9, time.monotonic()

    first, start = used()
    time.sleep(seconds)
    last, end = used()
    return (last - first) / (end - start)


def deployment(name: str, replicas: int) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": {"node.ku7s.dev/hollow": "true"},
                    "tolerations": [{"key": "node.ku7s.dev/hollow", "operator": "Exists"}],
                    "containers": [{"name": "c", "image": "busybox", "resources": {}}],
                },
            },
        },
    }


async def pods_phase(kubeconfig: Path) -> dict[str, float]:
    total = DEPLOYMENTS * REPLICAS
    async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=120) as api:
        started = time.monotonic()
        for i in range(DEPLOYMENTS):
            await api.create(
                "/apis/apps/v1/namespaces/default/deployments", deployment(f"d{i}", REPLICAS)
            )
        bound_at: float | None = None
        while True:
            pods = (await api.get("/api/v1/namespaces/default/pods"))["items"]
            bound = sum(1 for p in pods if (p.get("spec") or {}).get("nodeName"))
            running = sum(1 for p in pods if meta.is_ready(p))
            if bound_at is None and bound >= total:
                bound_at = time.monotonic() - started
            if running >= total:
                break
            if time.monotonic() - started > 1800:
                raise SystemExit(f"only {running} of {total} pods Running after 30 min")
            await asyncio.sleep(2)
        all_running = time.monotonic() - started
        latencies: dict[str, list[float]] = {"get pod": [], "list namespace": [], "list all": []}
        some = meta.name_of(pods[0])
        for _ in range(20):
            for label, path in (
                ("get pod", f"/api/v1/namespaces/default/pods/{some}"),
                ("list namespace", "/api/v1/namespaces/default/pods"),
                ("list all", "/api/v1/pods"),
            ):
                t = time.monotonic()
                await api.get(path)
                latencies[label].append(time.monotonic() - t)
    figures = {"pods": total, "all Running s": all_running, "bound s": bound_at or all_running}
    figures["binding pods/s"] = total / figures["bound s"]
    for label, values in latencies.items():
        figures[f"{label} p99 s"] = sorted(values)[int(0.99 * (len(values) - 1))]
        figures[f"{label} median s"] = statistics.median(values)
    return figures


def main() -> None:
    name = f"scale-{secrets.token_hex(3)}"
    workdir = Path(tempfile.mkdtemp())
    config, kubeconfig = workdir / "cluster.yaml", workdir / "kubeconfig"
    config.write_text(CONFIG)
    env = {"KUBECONFIG": str(kubeconfig)}
    client = docker.from_env()
    ku7s("create", "cluster", "--name", name, "--config", str(config), env=env)
    control_plane = f"{name}-control-plane"
    try:
        floor = etcd_floor(control_plane, 2000, 20)
        seconds = ku7s(
            "create", "node", "--hollow", "--count", str(NODES), "--name", name,
            "--wait", "900", env=env,
        )  # fmt: skip
        time.sleep(20)  # settle: the first heartbeats, the cloud's labels
        hollow = [c.name for c in client.containers.list(filters={"name": f"{name}-hollow-"})]
        memory = memory_mib(client, [control_plane, *hollow])
        hollow_mib = sum(memory[h] for h in hollow)
        idle = cpu_share(client, control_plane, 20)
        pods = asyncio.run(pods_phase(kubeconfig)) if DEPLOYMENTS * REPLICAS else {}
        loaded = memory_mib(client, [control_plane])[control_plane]
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)
    print(
        f"etcd floor (same run, 20 clients): {floor['puts']:.0f} puts/s, "
        f"{floor['txns']:.0f} create transactions/s"
    )
    print(f"{NODES} hollow nodes Ready and initialized: {seconds:.1f} s (goal <= 60 s at 1,000)")
    print(
        f"memory: hollow containers {hollow_mib:.0f} MiB in {len(hollow)} containers, "
        f"{hollow_mib / NODES:.2f} MiB per node (goal <= 1 MiB); control plane "
        f"{memory[control_plane]:.0f} MiB idle, {loaded:.0f} MiB with the pods (goal <= 2 GiB)"
    )
    print(f"control plane CPU while idle: {idle:.0%} of one core (goal <= 50 %)")
    for key, value in pods.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
