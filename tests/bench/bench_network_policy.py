"""Benchmark: NetworkPolicy programming latency on a fresh cluster of 3 workers.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_network_policy.py

One pod runs on each worker; a default-deny ingress policy selecting all three is created
and deleted, 20 times each way. Each change is timed from its API write until every
worker's policy agent has its pod's chain in iptables (or gone), as watchers inside each
node see it. Goal: p99 <= 1 s (upstream's network programming figure for Services).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import tempfile
from pathlib import Path

from bench_network import seen_on_every_node
from bench_pods import ku7s, percentile

from ku7s.client.rest import APIClient

CHANGES = int(os.environ.get("BENCH_CHANGES", "20"))

#: Waits inside a node until the policy jump for ADDRESS is there (or gone); prints when.
RULE_WATCHER = r"""
import subprocess, sys, time
needle, present = f"-A KU7S-NP-FORWARD -d {sys.argv[1]}/32", sys.argv[2] == "1"
while True:
    rules = subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, text=True)
    if (needle in rules.stdout) == present:
        print(time.time(), flush=True)
        break
"""


async def programming_latency(api: APIClient, workers: list[str]) -> dict[str, object]:
    namespace = f"npbench{secrets.token_hex(2)}"
    base = f"/api/v1/namespaces/{namespace}"
    await api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    for worker in workers:
        await api.create(
            f"{base}/pods",
            {
                "metadata": {"name": worker, "labels": {"bench": "np"}},
                "spec": {
                    "nodeName": worker,
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1h"]}],
                },
            },
        )
    addresses: dict[str, str] = {}
    while len(addresses) < len(workers):
        for worker in workers:
            pod = await api.get(f"{base}/pods/{worker}")
            if (pod.get("status") or {}).get("podIP"):
                addresses[worker] = pod["status"]["podIP"]
        await asyncio.sleep(0.2)
    policies = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
    policy = {
        "metadata": {"name": "deny"},
        "spec": {"podSelector": {"matchLabels": {"bench": "np"}}, "policyTypes": ["Ingress"]},
    }
    results: dict[str, list[float]] = {"created": [], "deleted": []}
    for i in range(CHANGES * 2):
        creating = i % 2 == 0
        change = (
            functools.partial(api.create, policies, policy)
            if creating
            else functools.partial(api.delete, f"{policies}/deny")
        )
        arguments = {w: [addresses[w], "1" if creating else "0"] for w in workers}
        took = await seen_on_every_node(workers, RULE_WATCHER, arguments, change)
        results["created" if creating else "deleted"].append(took)
    await api.delete(base)
    every = results["created"] + results["deleted"]
    return {
        "changes": len(every),
        "p50_s": round(percentile(every, 0.5), 3),
        "p99_s": round(percentile(every, 0.99), 3),
        "created_p50_s": round(percentile(results["created"], 0.5), 3),
        "deleted_p50_s": round(percentile(results["deleted"], 0.5), 3),
    }


def main() -> None:
    name = f"npbench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "3", env=env)
    try:

        async def run() -> dict[str, object]:
            async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=30) as api:
                workers = [f"{name}-worker", f"{name}-worker2", f"{name}-worker3"]
                return await programming_latency(api, workers)

        figures = asyncio.run(run())
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)
    print(f"network policy programming, all 3 workers, {figures['changes']} changes:")
    print(f"  p50 {figures['p50_s']} s, p99 {figures['p99_s']} s (goal p99 <= 1 s)")
    print(f"  created p50 {figures['created_p50_s']} s, deleted p50 {figures['deleted_p50_s']} s")


if __name__ == "__main__":
    main()
