"""Benchmark: Services on a fresh cluster of 3 workers.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_network.py

1. Network programming latency: a running pod is labelled into a Service (and out again);
   from that API write until its DNAT rule is in iptables on every node, as watchers inside
   each node see it. p50 and p99 over 20 changes each way (upstream's SLO: p99 <= 30 s at
   scale; our goal p99 <= 1 s).
2. ClusterIP against pod IP: from a pod's network namespace on one worker to nginx on
   another, 16 at a time, on new connections (the NAT's worst case: a conntrack entry and
   a rule walk each) and on kept-alive ones; three alternating rounds, the median's
   requests per second and p50/p99 latency.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml
from bench_pods import ku7s, percentile

from ku7s.client.rest import APIClient

CHANGES = int(os.environ.get("BENCH_CHANGES", "20"))
NEW_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4000"))
KEPT_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20000"))

#: Waits inside a node until the rule for ADDRESS is present (or absent) and prints when.
RULE_WATCHER = r"""
import subprocess, sys, time
address, present = sys.argv[1], sys.argv[2] == "1"
while True:
    rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    if (f"--to-destination {address}" in rules) == present:
        print(time.time(), flush=True)
        break
"""

#: HTTP GETs from inside a pod's network namespace, 16 at a time: each on a new connection
#: from a source port of its own (so no round reuses a port another left in TIME_WAIT, whose
#: conntrack clash would cost a 1 s SYN retransmit and measure that instead), or kept alive.
LOAD = r"""
import asyncio, json, sys, time
host, mode, count, first_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
latencies = []
ports = iter(range(first_port, first_port + count))
async def response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
async def fresh():
    for port in ports:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, 80, local_addr=("0.0.0.0", port))
        writer.write(REQUEST)
        await response(reader)
        writer.close()
        latencies.append(time.perf_counter() - started)
async def kept(share):
    reader, writer = await asyncio.open_connection(host, 80)
    for _ in range(share):
        started = time.perf_counter()
        writer.write(REQUEST)
        try:
            await response(reader)
        except (asyncio.IncompleteReadError, ConnectionResetError):  # nginx: 1000 a connection
            reader, writer = await asyncio.open_connection(host, 80)
            writer.write(REQUEST)
            await response(reader)
        latencies.append(time.perf_counter() - started)
    writer.close()
async def main():
    started = time.perf_counter()
    if mode == "new":
        await asyncio.gather(*(fresh() for _ in range(16)))
    else:
        await asyncio.gather(*(kept(count // 16) for _ in range(16)))
    took = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({"requests_per_s": round(len(latencies) / took),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2)}))
asyncio.run(main())
"""


def docker_exec(node: str, *argv: str) -> str:
    return subprocess.run(
        ["docker", "exec", node, *argv], capture_output=True, text=True, check=True
    ).stdout


async def seen_on_every_node(
    workers: list[str],
    watcher: str,
    arguments: dict[str, list[str]],
    change: Callable[[], Awaitable[object]],
) -> float:
    """Start the watcher script in every node (with the node's arguments), make the change,
    and return the seconds until the last watcher printed that it saw it."""
    watchers = [
        await asyncio.create_subprocess_exec(
            "docker",
            "exec",
            w,
            "python3",
            "-c",
            watcher,
            *arguments[w],
            stdout=asyncio.subprocess.PIPE,
        )
        for w in workers
    ]
    await asyncio.sleep(0.3)  # the watchers are polling
    started = time.time()
    await change()
    seen = [float((await w.communicate())[0]) for w in watchers]
    return max(seen) - started


async def programming_latency(api: APIClient, workers: list[str]) -> dict[str, object]:
    namespace = f"netbench{secrets.token_hex(2)}"
    await api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    base = f"/api/v1/namespaces/{namespace}"
    await api.create(
        f"{base}/services",
        {
            "metadata": {"name": "target"},
            "spec": {"selector": {"bench": "in"}, "ports": [{"port": 80}]},
        },
    )
    await api.create(
        f"{base}/pods",
        {
            "metadata": {"name": "backend", "labels": {"bench": "out"}},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        },
    )
    while True:
        pod = await api.get(f"{base}/pods/backend")
        if pod.get("status", {}).get("podIP") and pod["status"].get("phase") == "Running":
            break
        await asyncio.sleep(0.2)
    address = f"{pod['status']['podIP']}:80"
    results: dict[str, list[float]] = {"added": [], "removed": []}
    for i in range(CHANGES * 2):
        joining = i % 2 == 0
        label = {"metadata": {"labels": {"bench": "in" if joining else "out"}}}
        took = await seen_on_every_node(
            workers,
            RULE_WATCHER,
            {w: [address, "1" if joining else "0"] for w in workers},
            functools.partial(api.patch, f"{base}/pods/backend", label),
        )
        results["added" if joining else "removed"].append(took)
    await api.delete(base)
    every = results["added"] + results["removed"]
    return {
        "changes": len(every),
        "p50_s": round(percentile(every, 0.5), 3),
        "p99_s": round(percentile(every, 0.99), 3),
        "added_p50_s": round(percentile(results["added"], 0.5), 3),
        "removed_p50_s": round(percentile(results["removed"], 0.5), 3),
    }


def cluster_ip_against_pod_ip(kubectl: list[str], workers: list[str]) -> dict[str, object]:
    namespace = f"ipbench{secrets.token_hex(2)}"
    run = [*kubectl, "-n", namespace]
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
    overrides = json.dumps({"spec": {"nodeName": workers[1]}})
    subprocess.run(
        [*run, "run", "web", "--image=nginx", "--port=80", f"--overrides={overrides}", "--expose"],
        check=True,
        capture_output=True,
    )
    client_overrides = json.dumps({"spec": {"nodeName": workers[0]}})
    subprocess.run(
        [
            *run,
            "run",
            "client",
            "--image=busybox",
            f"--overrides={client_overrides}",
            "--",
            "sleep",
            "3600",
        ],
        check=True,
        capture_output=True,
    )
    for pod in ("web", "client"):
        subprocess.run(
            [*run, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=60s"],
            check=True,
            capture_output=True,
        )
    pod_ip = subprocess.run(
        [*run, "get", "pod", "web", "-o", "jsonpath={.status.podIP}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cluster_ip = subprocess.run(
        [*run, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # The client pod's network namespace, entered from its node with the node's Python.
    pid = docker_exec(workers[0], "sh", "-c", "pgrep -f 'sleep 3600' | head -1").strip()
    figures: dict[str, list[dict]] = {}
    port = 10000
    for _ in range(3):
        for mode, count in (("new", NEW_CONNECTIONS), ("keepalive", KEPT_REQUESTS)):
            for label, target in (("pod_ip", pod_ip), ("cluster_ip", cluster_ip)):
                argv = ["python3", "-c", LOAD, target, mode, str(count), str(port)]
                out = docker_exec(workers[0], "nsenter", "-n", "-t", pid, *argv)
                figures.setdefault(f"{mode}_{label}", []).append(json.loads(out))
                port += count if mode == "new" else 0
    subprocess.run(
        [*kubectl, "delete", "namespace", namespace, "--wait=false"], capture_output=True
    )
    median: dict[str, object] = {
        k: sorted(v, key=lambda f: f["requests_per_s"])[1] for k, v in figures.items()
    }
    for mode in ("new", "keepalive"):
        cluster_rate = figures[f"{mode}_cluster_ip"]
        median[f"{mode}_cluster_ip_vs_pod_ip"] = round(
            sorted(f["requests_per_s"] for f in cluster_rate)[1]
            / sorted(f["requests_per_s"] for f in figures[f"{mode}_pod_ip"])[1],
            2,
        )
    return median


def main() -> None:
    name = f"netbench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "3", env=env)
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        workers = [f"{name}-worker", f"{name}-worker2", f"{name}-worker3"]

        async def api_parts() -> dict[str, object]:
            async with APIClient.from_kubeconfig(config, timeout=60) as api:
                return {"network_programming": await programming_latency(api, workers)}

        figures = asyncio.run(api_parts())
        kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
        figures["throughput"] = cluster_ip_against_pod_ip(kubectl, workers)
        print(json.dumps(figures, indent=2))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
