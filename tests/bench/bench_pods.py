"""Benchmark: pods start, on a fresh cluster of 3 workers.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_pods.py

1. Pod start-up latency as the Kubernetes SLO defines it: from a pod's creation to a
   watch seeing it Running (images present), for 100 busybox pods created at once, then
   for 100 created at a steady 5 a second; p50 and p99, and pods-to-Running throughput.
2. The floor: the same number of pods started directly through CRI (sandbox, container,
   start) on the same nodes, all at once, with the runtime alone.
3. Scheduler throughput: 1,000 pending pods bound to 50 nodes that exist only as API
   objects (as upstream's scheduler_perf does), released at once by labelling the nodes.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ku7s.client.rest import APIClient

PODS = int(os.environ.get("BENCH_PODS", "100"))
SCHEDULED = int(os.environ.get("BENCH_SCHEDULED", "1000"))
FAKE_NODES = 50
#: Pods a second in the paced start-up run: within what the runtime alone manages here.
PACE = float(os.environ.get("BENCH_PACE", "5"))

CRI_FLOOR = r"""
import asyncio, json, sys, time, uuid
import grpc
from ku7s.rpc import cri_pb2 as c, cri_pb2_grpc as g

async def one(rt, i):
    uid = str(uuid.uuid4())
    meta = c.PodSandboxMetadata(name=f"floor-{i}", uid=uid, namespace="floor")
    config = c.PodSandboxConfig(metadata=meta, hostname=f"floor-{i}",
        log_directory=f"/var/log/pods/floor_{i}_{uid}", labels={"floor": "1"},
        linux=c.LinuxPodSandboxConfig(security_context=c.LinuxSandboxSecurityContext(
            namespace_options=c.NamespaceOption(pid=c.CONTAINER))))
    reply = await rt.RunPodSandbox(c.RunPodSandboxRequest(config=config), timeout=60)
    sandbox = reply.pod_sandbox_id
    container = c.ContainerConfig(metadata=c.ContainerMetadata(name="c"),
        image=c.ImageSpec(image="docker.io/library/busybox:latest"),
        command=["sleep", "3600"], log_path="c/0.log")
    cid = (await rt.CreateContainer(c.CreateContainerRequest(pod_sandbox_id=sandbox,
        config=container, sandbox_config=config), timeout=60)).container_id
    await rt.StartContainer(c.StartContainerRequest(container_id=cid), timeout=60)
    return sandbox

async def main(n):
    channel = grpc.aio.insecure_channel("unix:///run/containerd/containerd.sock")
    rt = g.RuntimeServiceStub(channel)
    started = time.perf_counter()
    sandboxes = await asyncio.gather(*(one(rt, i) for i in range(n)))
    took = time.perf_counter() - started
    for sandbox in sandboxes:
        await rt.StopPodSandbox(c.StopPodSandboxRequest(pod_sandbox_id=sandbox), timeout=60)
        await rt.RemovePodSandbox(c.RemovePodSandboxRequest(pod_sandbox_id=sandbox), timeout=60)
    print(json.dumps({"pods": n, "seconds": took}))

asyncio.run(main(int(sys.argv[1])))
"""


def ku7s(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ku7s", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pod(name: str, **spec: object) -> dict:
    return {
        "metadata": {"name": name, "labels": {"bench": "startup"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
            **spec,
        },
    }


async def startup(api: APIClient, count: int, rate: float | None = None) -> dict[str, object]:
    """All pods at once, or `rate` pods a second."""
    namespace = f"startup{secrets.token_hex(2)}"
    await api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    base = f"/api/v1/namespaces/{namespace}/pods"
    start_rv = (await api.get(base))["metadata"]["resourceVersion"]
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for _, obj in api.watch(base, {"resourceVersion": start_rv}):
            name = obj["metadata"]["name"]
            if obj.get("status", {}).get("phase") == "Running" and name not in running:
                running[name] = time.perf_counter()
                if len(running) == count:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    first = time.perf_counter()

    async def create(i: int) -> None:
        if rate:
            await asyncio.sleep(first + i / rate - time.perf_counter())
        name = f"p{i}"
        created[name] = time.perf_counter()
        await api.create(base, pod(name))

    await asyncio.gather(*(create(i) for i in range(count)))
    await asyncio.wait_for(done.wait(), timeout=300)
    watcher.cancel()
    latencies = [running[n] - created[n] for n in created]
    total = max(running.values()) - first
    await api.delete(f"/api/v1/namespaces/{namespace}")
    return {
        "pods": count,
        "created_per_s": rate or "all at once",
        "startup_s_p50": round(percentile(latencies, 0.5), 2),
        "startup_s_p99": round(percentile(latencies, 0.99), 2),
        "pods_running_per_s": round(count / total, 1),
    }


async def scheduler(api: APIClient, count: int, nodes: int) -> dict[str, object]:
    """Pods bound per second to nodes that exist only in the API."""
    for i in range(nodes):
        await api.create(
            "/api/v1/nodes",
            {
                "metadata": {"name": f"fake-{i}", "labels": {"bench": "fake"}},
                "status": {
                    "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "64", "memory": "256Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            },
        )
    await api.create("/api/v1/namespaces", {"metadata": {"name": "sched"}})
    base = "/api/v1/namespaces/sched/pods"
    everywhere = [{"operator": "Exists"}]
    pending = [
        pod(f"s{i}", nodeSelector={"bench": "released"}, tolerations=everywhere)
        for i in range(count)
    ]
    for start in range(0, count, 50):
        await asyncio.gather(*(api.create(base, p) for p in pending[start : start + 50]))

    def tried(p: dict) -> bool:
        return any(
            c.get("type") == "PodScheduled" for c in p.get("status", {}).get("conditions") or []
        )

    # The scheduler has tried (and failed) every pod once: what follows is binding alone.
    for _ in range(600):
        if all(tried(p) for p in (await api.get(base))["items"]):
            break
        await asyncio.sleep(0.5)
    start_rv = (await api.get(base))["metadata"]["resourceVersion"]
    bound: set[str] = set()
    done = asyncio.Event()
    last = 0.0

    async def watch() -> None:
        nonlocal last
        async for _, obj in api.watch(base, {"resourceVersion": start_rv}):
            if obj.get("spec", {}).get("nodeName") and obj["metadata"]["name"] not in bound:
                bound.add(obj["metadata"]["name"])
                last = time.perf_counter()
                if len(bound) == count:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    released = time.perf_counter()
    await asyncio.gather(
        *(
            api.patch(f"/api/v1/nodes/fake-{i}", {"metadata": {"labels": {"bench": "released"}}})
            for i in range(nodes)
        )
    )
    await asyncio.wait_for(done.wait(), timeout=300)
    watcher.cancel()
    return {
        "pods": count,
        "nodes": nodes,
        "bound_per_s": round(count / (last - released), 1),
    }


def cri_floor(workers: list[str], count: int) -> dict[str, object]:
    share = [
        count // len(workers) + (1 if i < count % len(workers) else 0) for i in range(len(workers))
    ]
    started = time.perf_counter()
    runs = [
        subprocess.Popen(
            ["docker", "exec", node, "python3", "-c", CRI_FLOOR, str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for node, n in zip(workers, share, strict=True)
    ]
    results = [json.loads(p.communicate()[0]) for p in runs]
    wall = time.perf_counter() - started
    slowest = max(r["seconds"] for r in results)
    return {
        "pods": count,
        "seconds": round(slowest, 2),
        "pods_running_per_s": round(count / slowest, 1),
        "wall_with_cleanup_s": round(wall, 1),
    }


def main() -> None:
    name = f"podbench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "3", env=env)
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        workers = [f"{name}-worker", f"{name}-worker2", f"{name}-worker3"]

        async def api_parts() -> dict[str, object]:
            async with APIClient.from_kubeconfig(config, timeout=60) as api:
                figures = {"startup": await startup(api, PODS)}
                await asyncio.sleep(10)  # let the startup pods go
                figures["startup_paced"] = await startup(api, PODS, PACE)
                await asyncio.sleep(10)
                figures["scheduler"] = await scheduler(api, SCHEDULED, FAKE_NODES)
                return figures

        figures = asyncio.run(api_parts())
        figures["cri_floor"] = cri_floor(workers, PODS)
        ours = figures["startup"]["pods_running_per_s"]  # type: ignore[index]
        floor = figures["cri_floor"]["pods_running_per_s"]  # type: ignore[index]
        figures["running_vs_cri_floor"] = round(ours / floor, 2)
        print(json.dumps(figures, indent=2))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
