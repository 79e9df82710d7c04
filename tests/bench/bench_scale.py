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
   (goal: 10,000 in <= 5 min); the rates pods were created and scheduled at, from their
   timestamps (goal >= 300 pods/s scheduled);
5. API latency at that size, p99 of 20 calls each: a single pod read, a namespace's pods,
   all pods (upstream's SLOs: 1 s, 5 s, 30 s);
6. a Service per Deployment (10,000 endpoints): the real worker's kube-proxy, from its own
   metrics (time until every endpoint is in iptables, mean sync time);
7. node loss: 10 % of the hollow nodes stopped (`ku7s chaos stop --mode fixed-percent`),
   until their pods run elsewhere (goal: the eviction time + 10 s).
The floor printed beside them: etcd's raw write rate in the same run (etcdctl, 1,000 puts).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
from bench_apiserver import etcd_floor
from bench_cluster import ku7s, memory_mib

from ku7s.api import meta
from ku7s.client.rest import APIClient
from ku7s.metrics.ports import PORTS

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


#: How long pods stay on an unreachable or NotReady node before they are evicted, in the
#: benchmark (upstream's default is 300 s); node loss is measured against it.
EVICTION_SECONDS = 10


def deployment(name: str, replicas: int) -> dict:
    away = [
        {"key": f"node.kubernetes.io/{why}", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": EVICTION_SECONDS}
        for why in ("unreachable", "not-ready")
    ]  # fmt: skip
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
                    "tolerations": [
                        {"key": "node.ku7s.dev/hollow", "operator": "Exists"},
                        *away,
                    ],
                    "containers": [{"name": "c", "image": "busybox", "resources": {}}],
                },
            },
        },
    }


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


async def ready_replicas(api: APIClient) -> int:
    """Ready pods, from the Deployments' status: a poll that costs the API server little
    (listing 10,000 pods every second would load it more than the work measured)."""
    deployments = (await api.get("/apis/apps/v1/namespaces/default/deployments"))["items"]
    return sum(int((d.get("status") or {}).get("readyReplicas") or 0) for d in deployments)


async def until_ready(api: APIClient, total: int, started: float, what: str) -> float:
    while (ready := await ready_replicas(api)) < total:
        if time.monotonic() - started > 1800:
            raise SystemExit(f"only {ready} of {total} pods ready after 30 min ({what})")
        await asyncio.sleep(1)
    return time.monotonic() - started


def per_second(stamps: list[str]) -> tuple[float, float]:
    """(peak, sustained) events per second from RFC 3339 times: the busiest second, and
    the count over the span from the first to the last."""
    seconds = [
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in stamps
    ]
    if not seconds:
        return 0.0, 0.0
    bins = collections.Counter(int(s) for s in seconds)
    span = max(seconds) - min(seconds)
    return float(max(bins.values())), len(seconds) / max(span, 1.0)


def scheduled_at(pod: dict) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "True":
            return str(condition.get("lastTransitionTime"))
    return None


async def pods_phase(kubeconfig: Path) -> dict[str, object]:
    total = DEPLOYMENTS * REPLICAS
    async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=120) as api:
        started = time.monotonic()
        for i in range(DEPLOYMENTS):
            await api.create(
                "/apis/apps/v1/namespaces/default/deployments", deployment(f"d{i}", REPLICAS)
            )
        all_running = await until_ready(api, total, started, "creating")
        pods = (await api.get("/api/v1/namespaces/default/pods"))["items"]
        created = per_second([p["metadata"]["creationTimestamp"] for p in pods])
        scheduled = per_second([s for s in map(scheduled_at, pods) if s])
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
    figures: dict[str, object] = {"pods": total, "all Running s": all_running}
    figures["created pods/s peak, sustained"] = created
    figures["scheduled pods/s peak, sustained (goal >= 300)"] = scheduled
    for label, values in latencies.items():
        figures[f"{label} p99 s"] = sorted(values)[int(0.99 * (len(values) - 1))]
        figures[f"{label} median s"] = statistics.median(values)
    return figures


async def services_phase(kubeconfig: Path, client: docker.DockerClient, worker: str) -> dict:
    """A Service per Deployment: every pod an endpoint, each synced by the real worker's
    kube-proxy into iptables. Its own metrics say how long a sync took."""
    async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=120) as api:
        before = proxy_syncs(client, worker)
        for i in range(DEPLOYMENTS):
            await api.create("/api/v1/namespaces/default/services", service(f"d{i}"))
        started = time.monotonic()
        while True:
            rules = proxy_rules(client, worker)
            if rules >= DEPLOYMENTS * REPLICAS or time.monotonic() - started > 300:
                break
            await asyncio.sleep(1)
        settled = time.monotonic() - started
    after = proxy_syncs(client, worker)
    syncs = max(after[0] - before[0], 1)
    return {
        "endpoints": DEPLOYMENTS * REPLICAS,
        "kube-proxy: all endpoints in iptables s": settled,
        "kube-proxy: mean sync s": (after[1] - before[1]) / syncs,
        "kube-proxy: syncs": syncs,
        "kube-proxy: endpoints in iptables": rules,
    }


def proxy_metrics(client: docker.DockerClient, worker: str) -> str:
    port = PORTS["kube-proxy"]
    script = f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics').read().decode())"
    result = client.containers.get(worker).exec_run(["python3", "-c", script])
    return _text(result.output)


def _text(output: object) -> str:
    return output.decode() if isinstance(output, bytes) else ""


def proxy_syncs(client: docker.DockerClient, worker: str) -> tuple[float, float]:
    """(count, sum) of kube-proxy's sync durations."""
    values = {"count": 0.0, "sum": 0.0}
    for line in proxy_metrics(client, worker).splitlines():
        for what in values:
            if line.startswith(f"kubeproxy_sync_proxy_rules_duration_seconds_{what} "):
                values[what] = float(line.split()[1])
    return values["count"], values["sum"]


def proxy_rules(client: docker.DockerClient, worker: str) -> int:
    """How many endpoints the worker's iptables hold: one KUBE-SEP chain each."""
    result = client.containers.get(worker).exec_run(["iptables-save", "-t", "nat"])
    lines = _text(result.output).splitlines()
    return len([line for line in lines if line.startswith(":KUBE-SEP-")])


async def node_loss_phase(kubeconfig: Path, name: str, env: dict[str, str]) -> dict:
    """Stop 10 % of the hollow nodes; time until their pods run elsewhere."""
    total = DEPLOYMENTS * REPLICAS
    run = subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", "stop", "--labels", "node.ku7s.dev/hollow=true",
         "--mode", "fixed-percent", "--value", "10", "--duration", "10m", "--name", name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )  # fmt: skip
    assert run.stdout is not None
    for line in run.stdout:
        if "injected" in line:
            break
    started = time.monotonic()
    try:
        async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=120) as api:
            while await ready_replicas(api) >= total and time.monotonic() - started < 120:
                await asyncio.sleep(0.5)
            back = await until_ready(api, total, started, "after losing nodes")
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(timeout=120)
    reverted = time.monotonic()
    async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=120) as api:
        while True:
            nodes = (await api.get("/api/v1/nodes"))["items"]
            if all(meta.is_node_ready(n) for n in nodes) or time.monotonic() - reverted > 600:
                break
            await asyncio.sleep(1)
    return {
        "10 % of hollow nodes stopped: pods Running elsewhere s": back,
        "started again: every node Ready s": time.monotonic() - reverted,
    }


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
        pods: dict = {}
        if DEPLOYMENTS * REPLICAS:
            pods = asyncio.run(pods_phase(kubeconfig))
            loaded = memory_mib(client, [control_plane])[control_plane]
            pods.update(asyncio.run(services_phase(kubeconfig, client, f"{name}-worker")))
            pods.update(asyncio.run(node_loss_phase(kubeconfig, name, env)))
            grace = 5  # the cluster's node-monitor grace period
            pods["eviction time s (grace + tolerationSeconds; goal: that + 10)"] = (
                grace + EVICTION_SECONDS
            )
        else:
            loaded = memory[control_plane]
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
        if isinstance(value, tuple):
            value = ", ".join(f"{v:.0f}" for v in value)
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
