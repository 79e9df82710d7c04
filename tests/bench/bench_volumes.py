"""Benchmark: a pod with a dynamically provisioned claim of the default class, from create to
Ready, on a warm cluster of one worker; beside it, in the same run, a pod with a claim of
the mock cloud's disks (class ku7s-disk) and a pod without a claim.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_volumes.py

Each round creates a claim and a pod that mounts it, at once (as `kubectl apply` of both
does), and times until the pod is Ready: the scheduler's volume binding names the node,
the binder hands the claim to the local-path provisioner, the volume is made and bound,
the pod is bound and its kubelet mounts the directory. Goal: <= 2 s. A disk also has a
Docker volume made, a VolumeAttachment, and an attachment container that mounts the disk
into the node before the kubelet can mount it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

# Run as a script, this directory is on the path.
from bench_apiserver import ku7s

from ku7s.api import meta
from ku7s.client.rest import APIClient

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
NAMESPACE = "default"


def claim(name: str, storage_class: str | None) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": spec,
    }


def pod(name: str, claim_name: str | None) -> dict:
    container = {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
    spec: dict = {"terminationGracePeriodSeconds": 0, "containers": [container]}
    if claim_name:
        container["volumeMounts"] = [{"name": "d", "mountPath": "/data"}]
        spec["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def until_ready(client: APIClient, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await client.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")
        if meta.is_ready(found):
            return
        await asyncio.sleep(0.02)
    raise SystemExit(f"pod {name} not Ready in {timeout}s")


async def one(client: APIClient, name: str, with_claim: bool, storage_class: str = "") -> float:
    started = time.perf_counter()
    if with_claim:
        await client.create(
            f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims", claim(name, storage_class)
        )
    await client.create(
        f"/api/v1/namespaces/{NAMESPACE}/pods", pod(name, name if with_claim else None)
    )
    await until_ready(client, name)
    return time.perf_counter() - started


async def rounds(kubeconfig: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"claim": [], "disk": [], "plain": []}
    async with APIClient.from_kubeconfig_file(str(kubeconfig), timeout=60) as client:
        await one(client, "warm-up", with_claim=True)
        await one(client, "warm-up-disk", with_claim=True, storage_class="ku7s-disk")
        for i in range(ROUNDS):
            times["claim"].append(await one(client, f"with-{i}", with_claim=True))
            times["disk"].append(
                await one(client, f"disk-{i}", with_claim=True, storage_class="ku7s-disk")
            )
            times["plain"].append(await one(client, f"without-{i}", with_claim=False))
    return times


def main() -> None:
    name = f"volbench-{secrets.token_hex(3)}"
    workdir = Path(tempfile.mkdtemp())
    kubeconfig = workdir / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "1", env=env)
    try:
        times = asyncio.run(rounds(kubeconfig))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)

    def summary(values: list[float]) -> str:
        return (
            f"median {statistics.median(values):.2f} s, max {max(values):.2f} s "
            f"({', '.join(f'{v:.2f}' for v in values)})"
        )

    print(f"pod Ready, {ROUNDS} rounds on a warm cluster of one worker:")
    print(f"  with a new claim of class standard: {summary(times['claim'])} (goal <= 2 s)")
    print(f"  with a new claim of class ku7s-disk: {summary(times['disk'])}")
    print(f"  without a claim (same run):         {summary(times['plain'])}")


if __name__ == "__main__":
    main()
