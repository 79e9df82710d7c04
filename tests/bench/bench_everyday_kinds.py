"""Benchmark: what the everyday kinds' machinery costs, on a fresh cluster of one worker.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_everyday_kinds.py

1. Quota admission: pod creates at 20 clients at the control plane's own address, in a
   namespace with a ResourceQuota and in one without, taking turns over three rounds.
   Goal: the quota costs at most 5 % of the rate.
2. Autoscaler sync: 100 HorizontalPodAutoscalers on one Deployment whose pod runs, each
   synced once (scale read, metrics read, status written) by the controller's own code in
   this process, all at once. Goal: at most 1 s for the 100.
(The preemption decision has its own benchmark: bench_preemption.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

# Run as a script, this directory is on the path.
from bench_apiserver import ku7s
from bench_authorization import kubectl, ssl_context
from load_client import LoadClient

from control_plane.controllers.podautoscaler.horizontal import HorizontalPodAutoscalerController
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient

ROUNDS = 3
HPAS = 100


def pod(name: str) -> bytes:
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        # Nowhere to run: the figure is the API's, not the kubelet's.
        "spec": {"nodeSelector": {"bench": "nowhere"},
                 "containers": [{"name": "c", "image": "busybox",
                                 "resources": {"requests": {"cpu": "1m"}}}]},
    }).encode()  # fmt: skip


async def creates(load: LoadClient, namespace: str, prefix: str, n: int) -> float:
    path = f"/api/v1/namespaces/{namespace}/pods"
    result = await load.run(
        [load.request("POST", path, pod(f"{prefix}-{i}")) for i in range(n)], 20
    )
    assert result.statuses.get(201) == n, result.statuses
    return n / result.seconds


async def autoscaler_syncs(kubeconfig: Path) -> list[float]:
    async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=60) as client:
        controller = HorizontalPodAutoscalerController(client, InformerFactory(client))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(i.run(stop)) for i in controller.informers]
        await asyncio.gather(*(i.synced.wait() for i in controller.informers))
        autoscalers = controller.autoscalers.list()
        assert len(autoscalers) == HPAS, len(autoscalers)
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            await asyncio.gather(*(controller.sync(h) for h in autoscalers))
            times.append(time.perf_counter() - started)
        stop.set()
        await asyncio.gather(*tasks)
        return times


def main() -> None:
    n = int(os.environ.get("BENCH_N", "600"))
    name = f"kindsbench-{secrets.token_hex(3)}"
    workdir = Path(tempfile.mkdtemp())
    kubeconfig = workdir / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "1", env=env)
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        control_plane = f"{name}-control-plane"
        inspect = json.loads(subprocess.run(["docker", "inspect", control_plane],
                                            capture_output=True, check=True).stdout)[0]  # fmt: skip
        address = next(iter(inspect["NetworkSettings"]["Networks"].values()))["IPAddress"]
        load = LoadClient(address, 6443, ssl_context(config, f"ku7s-{name}"), control_plane)

        # 1. quota admission
        for namespace in ("free", "quoted"):
            kubectl(kubeconfig, "create", "namespace", namespace)
        kubectl(kubeconfig, "create", "quota", "big", "-n", "quoted",
                "--hard=pods=1000000,requests.cpu=1000")  # fmt: skip
        used_pods = ["get", "quota", "big", "-n", "quoted", "-o", "jsonpath={.status.used.pods}"]
        deadline = time.monotonic() + 60
        while kubectl(kubeconfig, *used_pods) != "0":  # the quota controller's first count
            if time.monotonic() > deadline:
                raise SystemExit("the quota's status was never written")
            time.sleep(0.2)
        rates: dict[str, list[float]] = {"free": [], "quoted": []}
        for round_ in range(ROUNDS):
            for namespace in rates:
                rates[namespace].append(asyncio.run(creates(load, namespace, f"r{round_}", n)))
        free, quoted = statistics.median(rates["free"]), statistics.median(rates["quoted"])
        used = kubectl(kubeconfig, *used_pods)

        # 2. autoscaler syncs
        kubectl(kubeconfig, "create", "namespace", "scaled")
        kubectl(kubeconfig, "create", "deployment", "target", "-n", "scaled", "--image=busybox",
                "--", "sleep", "3600")  # fmt: skip
        kubectl(kubeconfig, "set", "resources", "deployment", "target", "-n", "scaled",
                "--requests=cpu=100m")  # fmt: skip
        kubectl(kubeconfig, "rollout", "status", "deployment/target", "-n", "scaled",
                "--timeout=120s")  # fmt: skip
        hpas = [
            {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
             "metadata": {"name": f"h{i}"},
             "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "name": "target"},
                      "minReplicas": 1, "maxReplicas": 1,
                      "metrics": [{"type": "Resource", "resource": {
                          "name": "cpu", "target": {"type": "Utilization",
                                                    "averageUtilization": 50}}}]}}
            for i in range(HPAS)
        ]  # fmt: skip
        manifest = workdir / "hpas.json"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": hpas}))
        kubectl(kubeconfig, "create", "-n", "scaled", "-f", str(manifest))
        syncs = asyncio.run(autoscaler_syncs(kubeconfig))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)

    def listed(values: list[float]) -> str:
        return ", ".join(f"{v:,.0f}" for v in values)

    print(f"quota admission, pod creates at 20 clients ({n} per round, {ROUNDS} rounds):")
    print(f"  without a quota {free:,.0f}/s (rounds {listed(rates['free'])})")
    print(f"  with a quota    {quoted:,.0f}/s (rounds {listed(rates['quoted'])})")
    print(f"  cost {100 * (1 - quoted / free):.1f} % (goal <= 5 %); quota used.pods = {used}")
    rounds = ", ".join(f"{s:.2f} s" for s in syncs)
    print(f"autoscaler sync of {HPAS} HPAs: {rounds} (goal <= 1 s)")


if __name__ == "__main__":
    main()
