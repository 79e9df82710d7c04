"""A cluster survives `docker restart` of its containers and a restart of the Docker daemon:
the nodes come back Ready and the objects in etcd are still there."""

from __future__ import annotations

import subprocess

from tests.e2e.conftest import Cluster, new_cluster
from tests.e2e.docker_daemon import restart_docker_daemon


def _all_ready(cluster: Cluster) -> bool:
    status = cluster.node_ready()
    return set(status) == set(cluster.workers) and all(v == "True" for v in status.values())


def test_cluster_survives_container_and_daemon_restarts(provider, node_image, scratch_dir):
    with new_cluster(provider, scratch_dir, "restart", "--workers", "2") as cluster:
        manifest = scratch_dir / "survivor.yaml"
        manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: survivor\n")
        cluster.kubectl("create", "-f", str(manifest))
        containers = [n.name for n in provider.list_nodes(cluster.name)]

        subprocess.run(["docker", "restart", *containers], check=True, capture_output=True)
        cluster.wait_for(lambda: _all_ready(cluster), timeout=60, what="nodes Ready after restart")
        assert cluster.kubectl("get", "namespace", "survivor").returncode == 0

        restart_docker_daemon()
        cluster.wait_for(
            lambda: _all_ready(cluster),
            timeout=90,
            what="nodes Ready after a Docker daemon restart",
        )
        assert cluster.kubectl("get", "namespace", "survivor").returncode == 0
        assert "survivor" in cluster.kubectl("get", "ns").stdout
