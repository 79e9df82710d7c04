"""Benchmark: `ku7s delete cluster` of 1 + 3 nodes with 10 Services of type LoadBalancer,
beside the same run's delete of an empty cluster of the same size.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_delete.py [--rounds 3] [--services 10]

Each round creates a cluster, applies a Deployment and the Services, waits until every
Service has its load balancer's address, then times the whole `ku7s delete cluster`
command (interpreter start included, as a user's teardown step pays it) and checks that
nothing labelled with the cluster is left.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cluster import ku7s

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import network_name

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests package
from tests.workloads import load_balanced_web


def leftovers(provider: DockerProvider, cluster: str) -> list[str]:
    return provider.cluster_objects(cluster, network_name(cluster))


def wait_for_load_balancers(kubeconfig: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "svc", "-o", "json"],
            capture_output=True,
            text=True,
        )
        if result.returncode == 0:
            items = json.loads(result.stdout)["items"]
            balanced = [
                s for s in items if s.get("status", {}).get("loadBalancer", {}).get("ingress")
            ]
            if len(balanced) >= count:
                return
        time.sleep(0.5)
    raise SystemExit(f"the {count} load balancers did not get addresses within {timeout:.0f}s")


def one_round(
    workers: int, services: int, tmp: Path, provider: DockerProvider
) -> tuple[float, float]:
    env = {"KUBECONFIG": str(tmp / "kubeconfig")}
    empty = f"bench-del-{secrets.token_hex(3)}"
    ku7s("create", "cluster", "--name", empty, "--workers", str(workers), env=env)
    empty_seconds = ku7s("delete", "cluster", "--name", empty, env=env)
    if left := leftovers(provider, empty):
        raise SystemExit(f"delete of {empty} left {left}")
    busy = f"bench-del-{secrets.token_hex(3)}"
    ku7s("create", "cluster", "--name", busy, "--workers", str(workers), env=env)
    try:
        manifest = tmp / "lb.json"
        manifest.write_text(load_balanced_web(services))
        subprocess.run(
            ["kubectl", "--kubeconfig", env["KUBECONFIG"], "apply", "-f", str(manifest)],
            check=True,
            capture_output=True,
        )
        wait_for_load_balancers(tmp / "kubeconfig", services)
        busy_seconds = ku7s("delete", "cluster", "--name", busy, env=env)
    finally:
        if leftovers(provider, busy):
            ku7s("delete", "cluster", "--name", busy, env=env)
    if left := leftovers(provider, busy):
        raise SystemExit(f"delete of {busy} left {left}")
    return empty_seconds, busy_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--services", type=int, default=10)
    args = parser.parse_args()
    provider = DockerProvider.connect()
    empties, busies = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(1, args.rounds + 1):
            empty, busy = one_round(args.workers, args.services, Path(tmp), provider)
            empties.append(empty)
            busies.append(busy)
            print(
                f"round {round_number}: delete of 1 + {args.workers} nodes, empty {empty:.2f}s; "
                f"with {args.services} load balancers {busy:.2f}s",
                flush=True,
            )
    print(
        f"delete cluster, empty: median {statistics.median(empties):.2f}s "
        f"(min {min(empties):.2f}, max {max(empties):.2f})"
    )
    print(
        f"delete cluster, {args.services} load balancers: median {statistics.median(busies):.2f}s "
        f"(min {min(busies):.2f}, max {max(busies):.2f}); goal <= 3 s"
    )


if __name__ == "__main__":
    main()
