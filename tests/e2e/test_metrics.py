"""Metrics as a user scrapes them: Debian's real Prometheus run on `ku7s export
prometheus-config` finds every component up, follows a node added and removed, and sees
what the cluster does; `kubectl top` (1.33 and 1.27) prints real usage; `ku7s export logs`
gathers every node's logs."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import KUBECTL_VERSIONS, Cluster, new_cluster, run_ku7s

JOBS = {
    "kube-apiserver",
    "etcd",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-state-metrics",
    "cloud-controller-manager",
    "cluster-dns",
    "kubelet",
    "kubelet-resource",
    "cadvisor",
    "kube-proxy",
}
BURNER = """\
apiVersion: v1
kind: Pod
metadata: {name: burn}
spec:
  containers:
  - {name: burn, image: busybox, command: [sh, -c, "while :; do :; done"]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """Debian's prometheus, run on an exported configuration, and its HTTP API."""

    def __init__(self, config: Path, data: Path) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed (scripts/setup --for-tests installs it)"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError("prometheus did not start") from None
                time.sleep(0.2)

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as response:
            return json.loads(response.read())["data"]

    def targets(self) -> list[dict]:
        return self.api("targets")["activeTargets"]

    def query(self, expression: str) -> list[dict]:
        return self.api("query", query=expression)["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def metrics_cluster(
    provider: DockerProvider, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with new_cluster(
        provider, tmp_path_factory.mktemp("metrics"), "metrics", "--workers", "1"
    ) as c:
        yield c


@pytest.fixture(scope="module")
def prometheus(
    metrics_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    result = run_ku7s(
        "export",
        "prometheus-config",
        "--name",
        metrics_cluster.name,
        "--dir",
        str(directory / "config"),
        env=metrics_cluster.env,
    )
    assert result.returncode == 0, result.stderr
    server = Prometheus(Path(result.stdout.strip()), directory / "data")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def up_targets(prometheus: Prometheus) -> Counter[str]:
    return Counter(t["labels"]["job"] for t in prometheus.targets() if t["health"] == "up")


def test_prometheus_scrapes_every_component_and_follows_nodes(
    metrics_cluster: Cluster, prometheus: Prometheus
):
    cluster = metrics_cluster
    cluster.wait_for(
        lambda: set(up_targets(prometheus)) == JOBS, timeout=60, interval=1, what="every job up"
    )
    assert up_targets(prometheus)["kubelet"] == 1
    # A node added shows up as targets by itself; a node deleted goes.
    added = run_ku7s("create", "node", "--name", cluster.name, env=cluster.env)
    assert added.returncode == 0, added.stderr
    node = added.stdout.strip()
    for job in ("kubelet", "kube-proxy", "cadvisor"):
        cluster.wait_for(
            lambda job=job: up_targets(prometheus)[job] == 2, timeout=30, interval=1, what=job
        )
    assert run_ku7s("delete", "node", node, env=cluster.env).returncode == 0
    cluster.wait_for(
        lambda: len([t for t in prometheus.targets() if t["labels"]["job"] == "kubelet"]) == 1,
        timeout=30,
        interval=1,
        what="the deleted node's targets gone",
    )


def test_series_follow_what_the_cluster_does(metrics_cluster: Cluster, prometheus: Prometheus):
    cluster = metrics_cluster
    cluster.wait_for(lambda: "kubelet" in up_targets(prometheus), timeout=60, interval=1)
    ns = f"m{int(time.time())}"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "deployment", "web", "--image=nginx:latest", "--replicas=2", "-n", ns)
    manifest = Path(cluster.cache_dir.parent / f"{ns}-burn.yaml")
    manifest.write_text(BURNER)
    cluster.kubectl("apply", "-n", ns, "-f", str(manifest))
    cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod", "--all", "--timeout=60s")

    def running_per_node_matches() -> bool:
        pods = cluster.get_json("pods", "-A")["items"]
        wanted = Counter(
            p["spec"]["nodeName"] for p in pods if p["status"].get("phase") == "Running"
        )
        seen = {
            r["metric"]["node"]: int(float(r["value"][1]))
            for r in prometheus.query("kubelet_running_pods")
        }
        return bool(wanted) and all(seen.get(node) == count for node, count in wanted.items())

    cluster.wait_for(running_per_node_matches, timeout=30, interval=1, what="kubelet_running_pods")

    def requests() -> float:
        found = prometheus.query('sum(apiserver_request_total{verb="LIST",resource="pods"})')
        return float(found[0]["value"][1]) if found else 0.0

    before = requests()
    for _ in range(10):
        cluster.kubectl("get", "pods", "-n", ns)
    cluster.wait_for(lambda: requests() >= before + 10, timeout=20, interval=1, what="requests")

    def burning() -> bool:
        rate = prometheus.query(
            f'rate(container_cpu_usage_seconds_total{{job="cadvisor",namespace="{ns}",'
            'container="burn"}[15s])'
        )
        return bool(rate) and float(rate[0]["value"][1]) > 0.5

    cluster.wait_for(burning, timeout=40, interval=1, what="the burner's CPU rate")
    for version in KUBECTL_VERSIONS:
        pods = cluster.kubectl("top", "pods", "-A", version=version).stdout
        burn = next(line for line in pods.splitlines() if " burn " in f" {line} ")
        assert int(burn.split()[2].removesuffix("m")) >= 500, pods
        nodes = cluster.kubectl("top", "nodes", version=version).stdout
        assert all(worker in nodes for worker in cluster.workers), nodes

    def zones_hold_every_node() -> bool:
        zones = prometheus.query("sum(node_collector_zone_size)")
        return bool(zones) and float(zones[0]["value"][1]) == len(cluster.workers)

    cluster.wait_for(zones_hold_every_node, timeout=20, interval=1, what="node_collector_*")
    state = prometheus.query(f'kube_deployment_status_replicas_ready{{namespace="{ns}"}}')
    assert state and float(state[0]["value"][1]) == 2
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_logs_export_and_bad_input(metrics_cluster: Cluster, tmp_path: Path):
    cluster = metrics_cluster
    result = run_ku7s("export", "logs", str(tmp_path), "--name", cluster.name, env=cluster.env)
    assert result.returncode == 0, result.stderr
    control_plane = tmp_path / f"{cluster.name}-control-plane"
    for component in ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"):
        assert (control_plane / "ku7s" / f"{component}.log").stat().st_size > 0, component
    worker = tmp_path / cluster.workers[0]
    assert (worker / "ku7s" / "kubelet.log").exists() and (worker / "container.log").exists()
    for args in (
        ["export", "prometheus-config", "--name", "nosuch", "--dir", str(tmp_path / "p")],
        ["export", "logs", str(tmp_path / "l"), "--name", "nosuch"],
    ):
        bad = run_ku7s(*args, env=cluster.env)
        assert bad.returncode == 1 and bad.stderr == 'ERROR: no cluster named "nosuch"\n', args
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    bad = run_ku7s("export", "logs", str(not_a_directory), "--name", cluster.name, env=cluster.env)
    assert bad.returncode == 1 and "is not a directory" in bad.stderr
