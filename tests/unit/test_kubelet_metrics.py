"""The kubelet's metrics without a node: CRI calls named as upstream names them, pod start
times, and CPU and memory read from cgroup files laid out as v1 and v2 lay them out."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from node_image.kubelet.cgroups import PodCgroups
from node_image.kubelet.metrics import KubeletMetrics, operation_type
from node_image.kubelet.resource_metrics import (
    CadvisorMetrics,
    ContainerRef,
    PodRef,
    ResourceMetrics,
    UsageSource,
)
from node_image.kubelet.resource_usage import CgroupReader

NODE = "/docker/abc"
POD = PodRef("default", "web", "u1", "Burstable", [ContainerRef("nginx", "c1", "nginx:1", 50.0)])


def write(path: Path, text: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for line in text.split(";"):
        name, _, content = line.partition("=")
        (path / name).write_text(content.replace(",", "\n") + "\n")


def v1_hierarchy(root: Path) -> None:
    for cgroup, nanos, memory, inactive in (
        (NODE, 9_000_000_000, 500, 100),
        (f"{NODE}/kubepods/burstable/podu1", 3_000_000_000, 300, 50),
        (f"{NODE}/kubepods/burstable/podu1/c1", 2_500_000_000, 200, 40),
    ):
        write(root / "cpuacct" / cgroup.strip("/"), f"cpuacct.usage={nanos}")
        write(
            root / "memory" / cgroup.strip("/"),
            f"memory.usage_in_bytes={memory};memory.stat=cache 7,total_inactive_file {inactive}",
        )


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_cri_calls_get_upstream_operation_types():
    assert operation_type("RunPodSandboxRequest") == "run_podsandbox"
    assert operation_type("ListContainersRequest") == "list_containers"
    assert operation_type("PodSandboxStatusRequest") == "podsandbox_status"


def test_pod_start_is_timed_from_first_sight_to_running():
    registry, now = CollectorRegistry(), [10.0]
    metrics = KubeletMetrics(registry, "w1", clock=lambda: now[0])
    metrics.pod_seen("u1")
    now[0] += 1.5
    metrics.pod_phase("u1", "Pending")
    metrics.pod_phase("u1", "Running")
    metrics.pod_phase("u1", "Running")  # once
    metrics.runtime_operation("StartContainerRequest", 0.01, failed=True)
    metrics.watch_runtime(lambda: (1, [1, 1, 2]))
    found = samples(registry)
    assert found[("kubelet_pod_start_duration_seconds_sum", ())] == 1.5
    assert found[("kubelet_pod_start_duration_seconds_count", ())] == 1
    operation = (("operation_type", "start_container"),)
    assert found[("kubelet_runtime_operations_errors_total", operation)] == 1
    assert found[("kubelet_running_pods", ())] == 1
    assert found[("kubelet_running_containers", (("container_state", "running"),))] == 2
    assert found[("kubelet_node_name", (("node", "w1"),))] == 1


def test_resource_metrics_read_the_node_pod_and_container_cgroups_v1(tmp_path):
    v1_hierarchy(tmp_path)
    source = UsageSource(CgroupReader(tmp_path), PodCgroups(NODE, tmp_path), NODE)
    registry = CollectorRegistry()
    registry.register(ResourceMetrics(source, lambda: [POD]))
    found = samples(registry)
    assert found[("node_cpu_usage_seconds_total", ())] == 9.0
    assert found[("node_memory_working_set_bytes", ())] == 400
    pod = (("namespace", "default"), ("pod", "web"))
    assert found[("pod_cpu_usage_seconds_total", pod)] == 3.0
    container = (("container", "nginx"), *pod)
    assert found[("container_cpu_usage_seconds_total", container)] == 2.5
    assert found[("container_memory_working_set_bytes", container)] == 160
    assert found[("container_start_time_seconds", container)] == 50.0
    assert found[("resource_scrape_error", ())] == 0
    cadvisor = CollectorRegistry()
    cadvisor.register(CadvisorMetrics(source, lambda: [POD]))
    rows = samples(cadvisor)
    by_id = {
        dict(labels)["id"]: value
        for (name, labels), value in rows.items()
        if name == "container_cpu_usage_seconds_total"
    }
    assert by_id == {
        "/": 9.0,
        "/kubepods/burstable/podu1": 3.0,
        "/kubepods/burstable/podu1/c1": 2.5,
    }
    assert rows[("machine_cpu_cores", ())] >= 1


def test_cgroup_v2_files_are_read_too(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    write(
        tmp_path / "kubepods",
        "cpu.stat=usage_usec 1500000,user_usec 1;memory.current=1000;memory.stat=inactive_file 200",
    )
    usage = CgroupReader(tmp_path).read("/kubepods")
    assert usage is not None and usage.cpu_seconds == 1.5 and usage.working_set_bytes == 800
    assert CgroupReader(tmp_path).read("/gone") is None
