"""A hollow pod's life on paper: Pending, then Running and Ready after its start delay, a
Job's pod Succeeded after its run time, restarts and readiness by annotation."""

from __future__ import annotations

import random

import pytest

from node_image.hollow.pod_life import (
    HOLLOW_CONDITION,
    Defaults,
    HollowPod,
    ScriptError,
    script_of,
)

T0 = 1_800_000_000.0


def pod(restart_policy: str = "Always", **annotations: str) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1", "annotations": annotations},
        "spec": {
            "restartPolicy": restart_policy,
            "initContainers": [{"name": "setup", "image": "busybox"}],
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }


STEADY = Defaults(jitter=0)


def life(p: dict, defaults: Defaults = STEADY) -> HollowPod:
    return HollowPod(p, script_of(p, defaults, random.Random(1)), T0, "172.18.0.5", "10.244.7.3")


def conditions(status: dict) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_a_pod_starts_after_its_delay_and_says_it_is_hollow():
    hollow = life(pod())
    before = hollow.status(T0 + 0.5)
    assert before["phase"] == "Pending" and "podIP" not in before
    assert before["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert hollow.next_change(T0 + 0.5) == T0 + 1.0
    after = hollow.status(T0 + 1.5)
    assert after["phase"] == "Running" and after["podIP"] == "10.244.7.3"
    assert after["hostIP"] == "172.18.0.5"
    assert conditions(after)["Ready"] == "True"
    assert conditions(after)[HOLLOW_CONDITION] == "True"
    assert after["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert hollow.next_change(T0 + 1.5) is None


def test_a_jobs_pod_succeeds_after_the_run_time_and_a_failing_one_fails():
    done = life(pod("Never"), Defaults(jitter=0, job_run_time=3))
    assert done.status(T0 + 2)["phase"] == "Running"
    assert done.next_change(T0 + 2) == T0 + 4
    assert done.status(T0 + 4.5)["phase"] == "Succeeded" and done.finished(T0 + 4.5)
    failing = life(pod("Never", **{"hollow.ku7s.dev/exit-code": "2"}))
    status = failing.status(T0 + 10)
    assert status["phase"] == "Failed"
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2


def test_annotations_script_restarts_and_readiness():
    crashing = life(pod(**{"hollow.ku7s.dev/run-time": "2s", "hollow.ku7s.dev/exit-code": "1"}))
    status = crashing.status(T0 + 1 + 5)
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["restartCount"] == 2
    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    flaky = life(pod(**{"hollow.ku7s.dev/ready-for": "500ms", "hollow.ku7s.dev/start-delay": "0"}))
    assert conditions(flaky.status(T0 + 0.2))["Ready"] == "True"
    assert conditions(flaky.status(T0 + 0.7))["Ready"] == "False"
    assert flaky.next_change(T0 + 0.2) == T0 + 0.5


def test_an_unreadable_annotation_is_an_error_that_names_it():
    with pytest.raises(ScriptError, match="start-delay"):
        script_of(pod(**{"hollow.ku7s.dev/start-delay": "soon"}), Defaults(), random.Random())
    with pytest.raises(ScriptError, match="exit-code"):
        script_of(pod(**{"hollow.ku7s.dev/exit-code": "x"}), Defaults(), random.Random())


async def test_a_hollow_node_reports_its_pods_with_addresses_and_lets_deleted_ones_go():
    from node_image.hollow.node import HollowNode, HollowSettings, PodAddresses, State
    from node_image.kubelet.kubelet import ControlPlaneEndpoint

    now = [T0]
    settings = HollowSettings("h-0", "c1", "172.18.0.9", {"cpu": "32", "pods": "110"})
    node = HollowNode(
        settings, ControlPlaneEndpoint("cp"), "token", b"", clock=lambda: now[0],
        rng=random.Random(1),
    )  # fmt: skip
    node._addresses = PodAddresses("10.244.9.0/24")
    node.assign(pod())
    [first] = await node._reporter.next_batch()
    assert first.pod_status.uid == "u1"
    node.assign({**pod(), "metadata": {**pod()["metadata"], "uid": "u2"}})
    ips = {p.pod_ip for p in node.pods.values()}
    assert ips == {"10.244.9.2", "10.244.9.3"}  # .1 is the node's gateway address
    deleting = pod()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    node.assign(deleting)
    batch = await node._reporter.next_batch()
    assert "pod_terminated" in [m.WhichOneof("kind") for m in batch]
    node.removed("u1")
    node.assign({**pod(), "metadata": {**pod()["metadata"], "uid": "u3"}})
    assert node.pods["u3"].pod_ip == "10.244.9.2"  # given back, used again
    node.set_state(State.PAUSED)
    assert node.state is State.PAUSED


def test_heartbeats_slow_down_with_the_number_of_nodes_and_leases_last_longer():
    from control_plane.apiserver.node_service.service import Timing

    timing = Timing(heartbeat_interval=1.0, lease_duration_seconds=5)
    assert timing.interval_for(3) == 1.0 and timing.lease_seconds_for(3) == 5
    assert timing.interval_for(500) == 5.0 and timing.lease_seconds_for(500) == 25
    assert timing.interval_for(10_000) == 10.0  # upstream's renewal interval at most
    assert timing.lease_seconds_for(10_000) == 50
    # An unchanged Ready condition is rewritten less often too, up to upstream's 5 min.
    assert timing.status_report_seconds_for(3) == 60.0
    assert timing.status_report_seconds_for(200) == 120.0
    assert timing.status_report_seconds_for(1000) == 300.0


def test_latency_delays_messages_in_order_and_a_delay_of_zero_ends_it():
    from node_image.hollow.node import Latency

    latency = Latency(random.Random(3))
    assert latency.due(100.0) == 100.0
    latency.set(2.0, 1.5)
    arrivals = [latency.due(100.0 + i * 0.01) for i in range(50)]
    assert all(100.5 <= a <= 104.0 for a in arrivals)
    assert arrivals == sorted(arrivals)  # jitter never lets one overtake the one before
    latency.set(0.0, 0.0)
    assert latency.due(200.0) == 200.0


def test_the_control_socket_partitions_and_delays_named_nodes_and_refuses_bad_requests():
    from node_image.hollow.control import handle
    from node_image.hollow.node import HollowNode, HollowSettings, State
    from node_image.kubelet.kubelet import ControlPlaneEndpoint

    nodes = {
        name: HollowNode(
            HollowSettings(name, "c1", "172.18.0.9", {}), ControlPlaneEndpoint("cp"), "t", b""
        )
        for name in ("h-0", "h-1")
    }
    assert handle(nodes, "partitioned h-0") == {"nodes": {"h-0": "partitioned"}}
    assert nodes["h-0"].state is State.PARTITIONED and nodes["h-1"].state is State.RUNNING
    assert "nodes" in handle(nodes, "latency 0.5 0.1 to h-1")
    assert (nodes["h-1"].outgoing.delay, nodes["h-1"].incoming.delay) == (0.5, 0.0)
    assert "error" in handle(nodes, "latency -1 0 both h-1")
    assert "error" in handle(nodes, "latency 1 0 sideways h-1")
    assert handle(nodes, "latency 1 0 both h-9") == {
        "error": "no hollow node 'h-9' in this container"
    }
    assert "error" in handle(nodes, "frozen h-0")


def test_hollow_network_faults_refuse_what_cannot_be_simulated():
    from ku7s.chaos.faults.hollow_network import check_hollow_request
    from ku7s.errors import UserInputError

    check_hollow_request("latency", "control-plane", "to")
    check_hollow_request("partition", "all", "both")
    with pytest.raises(UserInputError, match="loss is not simulated on hollow nodes"):
        check_hollow_request("loss", "all", "to")
    with pytest.raises(UserInputError, match="talks only to the control plane"):
        check_hollow_request("partition", "worker", "both")
    with pytest.raises(UserInputError, match="--direction both"):
        check_hollow_request("partition", "control-plane", "to")


def test_more_hollow_nodes_than_the_free_memory_holds_are_refused_with_what_fits():
    from ku7s.cluster.providers.hollow_nodes import HollowNodes, hollow_nodes_fitting
    from ku7s.errors import UserInputError

    class Host:
        def exec(self, container: str, argv: list[str]) -> str:
            return "MemTotal:  4194304 kB\nMemAvailable:  2097152 kB\n"  # 2 GiB free

    nodes = HollowNodes(Host(), "c1")  # type: ignore[arg-type]
    fits = hollow_nodes_fitting(2048)
    assert 1000 < fits < 2048 - 512
    nodes._check_memory("c1-control-plane", fits)
    with pytest.raises(UserInputError, match=f"2048 MiB available, room for {fits} "):
        nodes._check_memory("c1-control-plane", fits + 1)
