"""How long the scheduler takes to decide a preemption: one high-priority pod against
1,000 bound pods of mixed priorities on 50 full nodes, with a few disruption budgets.
The issue's goal is 50 ms or less.

    python tests/bench/bench_preemption.py [--nodes 50] [--pods 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from control_plane.scheduler.framework import NodeInfo, PodInfo
from control_plane.scheduler.plugins import default_filters
from control_plane.scheduler.preemption import DefaultPreemption


def _pod(name: str, cpu: str, priority: int, app: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": app},
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"priority": priority,
                 "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    per_node = args.pods // args.nodes
    nodes = []
    for n in range(args.nodes):
        info = NodeInfo({
            "metadata": {"name": f"node-{n}", "labels": {}},
            "spec": {},
            "status": {"allocatable": {"cpu": str(per_node), "memory": "64Gi", "pods": "110"}},
        })  # fmt: skip
        for i in range(per_node):
            info.add(PodInfo.of(_pod(f"p-{n}-{i}", "1", rng.randrange(0, 1000), f"app-{i % 10}")))
        nodes.append(info)
    budgets = [
        {"metadata": {"name": f"app-{a}", "namespace": "default"},
         "spec": {"selector": {"matchLabels": {"app": f"app-{a}"}}},
         "status": {"disruptionsAllowed": 3}}
        for a in range(5)
    ]  # fmt: skip
    preemption = DefaultPreemption(default_filters())
    preemptor = PodInfo.of(_pod("high", "3", 10_000, "critical"))
    times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        candidate = preemption.find(preemptor, nodes, budgets)
        times.append((time.perf_counter() - started) * 1000)
    assert candidate is not None
    print(
        f"preemption decision, {args.pods} bound pods on {args.nodes} nodes: "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
        f"(goal <= 50 ms); chose {candidate.node} evicting {len(candidate.victims)} pods, "
        f"{candidate.violations} budget violations"
    )


if __name__ == "__main__":
    main()
