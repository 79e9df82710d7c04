"""Benchmark: image build, cluster create/delete, memory per node, and the Docker floor.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_cluster.py            # warm figures (images already built)
    python tests/bench/bench_cluster.py --cold     # also a cold image build (drops caches)

The floor is what Docker alone costs: `docker run` of the same number of containers from
the node image, in parallel, doing nothing but start containerd until it answers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from ku7s.cluster.images import BUSYBOX_IMAGE, PAUSE_IMAGE, ImageBuilder
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import NodeSpec
from ku7s.names import CLUSTER_LABEL, WORKER


def ku7s(*args: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ku7s", *args],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    if result.returncode != 0:
        raise SystemExit(f"ku7s {' '.join(args)} failed:\n{result.stderr}")
    return time.monotonic() - started


def cold_build(client: docker.DockerClient) -> float:
    builder = ImageBuilder(client)
    for tag in ("ku7s/node:latest", builder.base_tag(), PAUSE_IMAGE, BUSYBOX_IMAGE):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(tag, force=True)
    shutil.rmtree(Path.home() / ".cache" / "ku7s", ignore_errors=True)
    client.images.prune(filters={"dangling": False})
    started = time.monotonic()
    builder.ensure_node()
    return time.monotonic() - started


def memory_mib(client: docker.DockerClient, names: list[str]) -> dict[str, float]:
    """`docker stats` memory (usage minus page cache), in MiB."""
    result = {}
    for name in names:
        stats = client.containers.get(name).stats(stream=False)
        mem = stats["memory_stats"]
        cache = mem.get("stats", {}).get(
            "total_inactive_file", mem.get("stats", {}).get("cache", 0)
        )
        result[name] = (mem["usage"] - cache) / 2**20
    return result


def floor(provider: DockerProvider, image: str, count: int) -> float:
    """Seconds for `count` bare containerd containers, started in parallel, to answer."""
    tag = f"floor-{secrets.token_hex(3)}"
    network = f"ku7s-{tag}"
    provider.create_network(network, tag)
    names = [f"{tag}-{i}" for i in range(count)]
    script = (
        "containerd --config /etc/containerd/config.toml >/tmp/c.log 2>&1 & "
        "until ctr version >/dev/null 2>&1; do sleep 0.01; done; echo up; exec sleep infinity"
    )
    specs = [
        NodeSpec(
            name=n,
            cluster=tag,
            role=WORKER,
            image=image,
            network=network,
            env={},
            volume=f"{n}-containerd",
            entrypoint=["sh", "-c", script],
        )
        for n in names
    ]
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(provider.create_node, specs))
        client = provider.client
        while not all(b"up" in client.containers.get(n).logs() for n in names):
            time.sleep(0.01)
        return time.monotonic() - started
    finally:
        provider.remove_containers(names)
        provider.remove_cluster(tag, network)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="also time a cold image build")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    provider = DockerProvider.connect()
    client = provider.client
    figures: dict[str, object] = {}

    if args.cold:
        figures["cold_image_build_s"] = round(cold_build(client), 1)
    started = time.monotonic()
    ImageBuilder(client).ensure_node()
    figures["warm_image_build_s"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    ImageBuilder(client).ensure_node(force=True)
    figures["forced_rebuild_with_layer_cache_s"] = round(time.monotonic() - started, 1)

    creates, deletes, floors = [], [], []
    memory: dict[str, list[float]] = {"worker": [], "control-plane": []}
    for round_ in range(args.rounds):
        floors.append(floor(provider, "ku7s/node:latest", args.workers + 1))
        name = f"bench-{secrets.token_hex(3)}"
        env = {"KUBECONFIG": f"/tmp/{name}.kubeconfig"}
        creates.append(
            ku7s("create", "cluster", "--name", name, "--workers", str(args.workers), env=env)
        )
        if round_ == 0:
            time.sleep(10)  # let start-up allocations settle before measuring memory
            nodes = [
                c.name for c in client.containers.list(filters={"label": f"{CLUSTER_LABEL}={name}"})
            ]
            for node, mib in memory_mib(client, nodes).items():
                role = "control-plane" if node.endswith("control-plane") else "worker"
                memory[role].append(mib)
        deletes.append(ku7s("delete", "cluster", "--name", name, env=env))
        Path(env["KUBECONFIG"]).unlink(missing_ok=True)

    figures["floor_docker_run_containerd_s"] = [round(x, 2) for x in floors]
    figures[f"create_{args.workers}_workers_to_all_ready_s"] = [round(x, 2) for x in creates]
    figures["create_over_floor_ratio"] = round(
        statistics.median(creates) / statistics.median(floors), 1
    )
    figures["delete_s"] = [round(x, 2) for x in deletes]
    figures["memory_worker_mib"] = [round(x, 1) for x in memory["worker"]]
    figures["memory_control_plane_mib"] = [round(x, 1) for x in memory["control-plane"]]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
