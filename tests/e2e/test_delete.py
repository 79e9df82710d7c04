"""`ku7s delete cluster` always finishes and leaves nothing, whatever the cluster is doing:
here, while its cloud controller is creating load balancers for Services just applied,
while a second delete of the same cluster runs at the same moment, and (`--all`) while the
clusters are still being created."""

from __future__ import annotations

import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import network_name
from tests.e2e.conftest import kubectl_path, run_ku7s, unique
from tests.e2e.private_engine import private_engine
from tests.workloads import load_balanced_web


def leftovers(provider: DockerProvider, cluster: str) -> list[str]:
    return provider.cluster_objects(cluster, network_name(cluster))


def test_delete_while_load_balancers_are_being_created(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    manifest = tmp_path / "workload.json"
    manifest.write_text(load_balanced_web(3))
    kubeconfig = tmp_path / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    moments = random.Random()
    seen_load_balancers = 0
    for attempt in range(10):
        name = unique("del")
        try:
            created = run_ku7s("create", "cluster", "--name", name, "--workers", "1", env=env)
            assert created.returncode == 0, created.stderr
            subprocess.run(
                [
                    kubectl_path("1.33"),
                    "--kubeconfig",
                    str(kubeconfig),
                    "apply",
                    "-f",
                    str(manifest),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            time.sleep(moments.uniform(0, 5))
            seen_load_balancers += sum("-lb-" in thing for thing in leftovers(provider, name))
            deleted = run_ku7s("delete", "cluster", "--name", name, env=env)
            assert deleted.returncode == 0, f"attempt {attempt}: {deleted.stderr}"
            assert "Traceback" not in deleted.stderr
            assert leftovers(provider, name) == [], f"attempt {attempt}"
        finally:
            if leftovers(provider, name):
                run_ku7s("delete", "cluster", "--name", name, env=env)
    # The deletes did meet load balancers (else this proved nothing about the race).
    assert seen_load_balancers > 0


def test_two_deletes_of_one_cluster_at_once(provider: DockerProvider, node_image: str, tmp_path):
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
    name = unique("del2")
    try:
        created = run_ku7s("create", "cluster", "--name", name, "--workers", "2", env=env)
        assert created.returncode == 0, created.stderr
        with ThreadPoolExecutor(2) as pool:
            results = list(
                pool.map(lambda _: run_ku7s("delete", "cluster", "--name", name, env=env), [1, 2])
            )
        for result in results:
            assert result.returncode == 0, result.stderr
        assert leftovers(provider, name) == []
        again = run_ku7s("delete", "cluster", "--name", name, env=env)
        assert again.returncode == 0
        assert f'no cluster named "{name}" was found' in again.stderr
    finally:
        if leftovers(provider, name):
            run_ku7s("delete", "cluster", "--name", name, env=env)


def test_delete_all_while_two_clusters_are_being_created(node_image: str, tmp_path: Path):
    """On an engine of the test's own (`--all` takes every cluster of an engine): both
    creates are under way when the delete runs; it finishes and leaves nothing, and a create
    whose cluster went ends with one ERROR line rather than a traceback or a wait to its
    timeout."""
    with private_engine(node_image) as engine:
        env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
        names = [unique("all"), unique("all")]
        create = ["create", "cluster", "--workers", "2", "--image", node_image, "--name"]
        creates = [engine.ku7s(*create, name, env=env) for name in names]
        deadline = time.monotonic() + 60
        while not all(engine.provider.cluster_containers(name) for name in names):
            assert time.monotonic() < deadline, "the creates did not start their containers"
            time.sleep(0.05)
        delete = engine.ku7s("delete", "cluster", "--all", env=env)
        _, err = delete.communicate(timeout=120)
        assert delete.returncode == 0, err
        assert all(f'Deleting cluster "{name}"' in err for name in names), err
        for create in creates:
            # A create fails with one line, unless it finished before its cluster's turn.
            _, err = create.communicate(timeout=120)
            assert "Traceback" not in err
            assert create.returncode == 0 or err.splitlines()[-1].startswith("ERROR: "), err
        for name in names:
            assert engine.provider.cluster_objects(name, network_name(name)) == []
