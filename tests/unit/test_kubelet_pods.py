"""The kubelet's pod logic without a runtime: status rules, environment, volumes' files,
cgroup paths, CRI configs and the report queue."""

from __future__ import annotations

import base64
import datetime
import os

import pytest

from ku7s.rpc import cri_pb2
from node_image.kubelet import atomic_writer
from node_image.kubelet.cgroups import PodCgroups, own_cgroup
from node_image.kubelet.container_config import linux_resources
from node_image.kubelet.container_logs import LogOptions, read_log
from node_image.kubelet.environment import ConfigError, container_environment, expand
from node_image.kubelet.pod_status import (
    EXITED,
    RUNNING,
    ContainerRecord,
    Observed,
    phase,
    pod_status,
)
from node_image.kubelet.reporter import Reporter
from node_image.kubelet.restart_backoff import RestartBackoff, go_duration
from node_image.kubelet.sandbox_config import ClusterDNS, dns_config
from node_image.kubelet.volumes import PodVolumes, VolumeError


def record(name, state, exit_code=0, restarts=0, cid=None):
    return ContainerRecord(
        cid or f"{name}-{restarts}",
        name,
        "sb",
        state,
        restarts,
        exit_code=exit_code,
        started_at=1,
        finished_at=2 if state == EXITED else 0,
    )


def spec(policy="Always", inits=(), containers=("app",)):
    return {
        "restartPolicy": policy,
        "initContainers": [{"name": n, "image": "busybox"} for n in inits],
        "containers": [{"name": n, "image": "busybox"} for n in containers],
    }


def test_phase_follows_upstream_rules():
    running = Observed(latest={"app": record("app", RUNNING)})
    assert phase(spec(), running) == "Running"
    assert phase(spec(), Observed()) == "Pending"
    done = Observed(latest={"app": record("app", EXITED)})
    assert phase(spec("Never"), done) == "Succeeded"
    assert phase(spec("Always"), done) == "Running"  # it will be restarted
    failed = Observed(latest={"app": record("app", EXITED, exit_code=1)})
    assert phase(spec("Never"), failed) == "Failed"
    assert phase(spec("OnFailure"), failed) == "Running"
    init_failed = Observed(latest={"init": record("init", EXITED, exit_code=1)})
    assert phase(spec("Never", inits=("init",)), init_failed) == "Failed"
    assert phase(spec("Always", inits=("init",)), init_failed) == "Pending"


def test_status_reports_crash_loop_with_last_state_and_conditions():
    observed = Observed(
        latest={"app": record("app", EXITED, exit_code=2, restarts=3)},
        waiting={"app": ("CrashLoopBackOff", "back-off 40s restarting failed container")},
        sandbox_ready=True,
        pod_ip="10.244.1.5",
        host_ip="172.18.0.3",
    )
    pod = {"metadata": {"name": "p", "namespace": "d", "uid": "u"}, "spec": spec()}
    status = pod_status(pod, observed)
    [container] = status["containerStatuses"]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 2
    assert container["restartCount"] == 3
    assert status["phase"] == "Running" and status["podIP"] == "10.244.1.5"
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"


def test_init_containers_hold_app_containers_in_pod_initializing():
    observed = Observed(latest={"init": record("init", RUNNING)})
    pod = {"metadata": {}, "spec": spec(inits=("init",))}
    status = pod_status(pod, observed)
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    initialized = {c["type"]: c for c in status["conditions"]}["Initialized"]
    assert initialized["message"] == "containers with incomplete status: [init]"


def test_go_durations_read_like_upstream():
    assert [go_duration(s) for s in (10, 40, 80, 300)] == ["10s", "40s", "1m20s", "5m0s"]


def test_restart_backoff_doubles_and_resets_after_a_long_run():
    now = [1000.0]
    backoff = RestartBackoff(clock=lambda: now[0])
    second = int(1e9)
    assert backoff.wait("c", 999 * second, 1000 * second) == 0  # the first restart: at once
    assert backoff.wait("c", 999 * second, 1000 * second) == 10  # crashed again at once
    now[0] = 1010.0
    assert backoff.wait("c", 999 * second, 1000 * second) == 0  # waited it out
    assert backoff.delay("c") == 20
    assert backoff.wait("c", 100 * second, 1000 * second) == 0  # ran 15 minutes: start over
    assert backoff.delay("c") == 10


def test_expansion_of_variables():
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"


class Objects:
    def __init__(self, objects):
        self.objects = objects

    async def get(self, resource, namespace, name):
        return self.objects.get((resource, namespace, name))

    def forget(self, namespace):
        pass

    async def list(self, resource, namespace):
        return [o for (r, ns, _), o in self.objects.items() if r == resource and ns == namespace]


async def test_environment_from_every_source():
    objects = Objects(
        {
            ("configmaps", "d", "cfg"): {"data": {"COLOR": "blue", "bad key": "x"}},
            ("secrets", "d", "s"): {"data": {"pw": base64.b64encode(b"hunter2").decode()}},
            ("services", "d", "web-svc"): {
                "metadata": {"name": "web-svc"},
                "spec": {
                    "clusterIP": "10.96.0.20",
                    "ports": [{"port": 80, "protocol": "TCP", "name": "http"}],
                },
            },
        }
    )
    pod = {
        "metadata": {"name": "p", "namespace": "d", "uid": "u"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
        "status": {"podIP": "10.0.0.1"},
    }
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "URL", "value": "http://$(WEB_SVC_SERVICE_HOST):$(WEB_SVC_SERVICE_PORT)"},
        ],
    }
    env = await container_environment(pod, container, objects, {"memory": "2Gi"})
    assert env["CFG_COLOR"] == "blue" and "CFG_bad key" not in env
    assert env["PW"] == "hunter2" and env["NODE"] == "n1" and env["MEM"] == "2048"
    assert env["URL"] == "http://10.96.0.20:80"
    assert env["WEB_SVC_PORT_80_TCP_ADDR"] == "10.96.0.20"
    missing = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}],
    }
    with pytest.raises(ConfigError, match='configmap "nope" not found'):
        await container_environment(pod, missing, objects, {})


def test_atomic_writer_swaps_the_payload(tmp_path):
    volume = tmp_path / "v"
    assert atomic_writer.write(volume, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    assert (volume / "a").read_text() == "1" and (volume / "dir" / "b").read_text() == "2"
    assert not atomic_writer.write(volume, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    assert atomic_writer.write(volume, {"a": (b"changed", 0o644)})
    assert (volume / "a").read_text() == "changed" and not (volume / "dir").exists()
    assert len([p for p in os.listdir(volume) if p.startswith("..2")]) == 1
    with pytest.raises(ValueError):
        atomic_writer.write(volume, {"../escape": (b"", 0o644)})


async def test_volumes_from_config_maps_and_host_paths(tmp_path):
    objects = Objects({("configmaps", "d", "cfg"): {"data": {"k": "v", "other": "o"}}})
    volumes = PodVolumes(tmp_path / "pods", objects)
    pod = {
        "metadata": {"name": "p", "namespace": "d", "uid": "u1"},
        "spec": {
            "volumes": [
                {
                    "name": "cfg",
                    "configMap": {"name": "cfg", "items": [{"key": "k", "path": "sub/file"}]},
                },
                {"name": "scratch", "emptyDir": {}},
                {
                    "name": "host",
                    "hostPath": {"path": str(tmp_path / "made"), "type": "DirectoryOrCreate"},
                },
            ]
        },
    }
    paths = await volumes.set_up(pod)
    assert (paths["cfg"] / "sub" / "file").read_text() == "v"
    assert paths["scratch"].is_dir() and (tmp_path / "made").is_dir()
    bad = {
        **pod,
        "spec": {
            "volumes": [{"name": "x", "hostPath": {"path": str(tmp_path / "no"), "type": "File"}}]
        },
    }
    with pytest.raises(VolumeError, match="is not a file"):
        await volumes.set_up(bad)
    missing = {**pod, "spec": {"volumes": [{"name": "m", "secret": {"secretName": "absent"}}]}}
    with pytest.raises(VolumeError, match='secret "absent" not found'):
        await volumes.set_up(missing)
    await volumes.tear_down("u1")
    assert not (tmp_path / "pods" / "u1").exists()


def test_pod_cgroups_live_under_the_node():
    assert own_cgroup("9:memory:/docker/abc\n0::/x\n") == "/docker/abc"
    assert own_cgroup("0::/\n") == "/"
    cgroups = PodCgroups("/docker/abc")
    assert cgroups.parent("u1", "Burstable") == "/docker/abc/kubepods/burstable/podu1"
    assert cgroups.parent("u1", "Guaranteed") == "/docker/abc/kubepods/podu1"
    assert PodCgroups("/").parent("u1", "BestEffort") == "/kubepods/besteffort/podu1"


def test_cluster_first_dns_and_resources():
    pod = {
        "metadata": {"namespace": "team"},
        "spec": {"dnsConfig": {"options": [{"name": "ndots", "value": "2"}]}},
    }
    config = dns_config(pod, ClusterDNS())
    assert list(config.servers) == ["10.96.0.10"]
    assert config.searches[0] == "team.svc.cluster.local"
    assert list(config.options) == ["ndots:2"]
    resources = linux_resources(
        {"resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}},
        "Burstable",
    )
    assert (resources.cpu_shares, resources.cpu_quota, resources.memory_limit_in_bytes) == (
        256,
        50000,
        64 * 2**20,
    )


async def test_reporter_keeps_the_newest_status_and_orders_termination_last():
    reporter = Reporter()
    pod = {
        "metadata": {"name": "p", "namespace": "d", "uid": "u"},
        "spec": {"containers": [{"name": "c"}]},
    }
    reporter.status(pod, {"phase": "Pending"})
    reporter.status(pod, {"phase": "Running"})
    reporter.event(pod, "Normal", "Started", "Started container c", "c")
    reporter.terminated(pod)
    batch = await reporter.next_batch()
    kinds = [m.WhichOneof("kind") for m in batch]
    assert kinds == ["event", "pod_status", "pod_terminated"]
    assert b"Running" in batch[1].pod_status.status_json
    assert batch[0].event.field_path == "spec.containers{c}"
    reporter.put_back(batch[1:])
    again = await reporter.next_batch()
    assert [m.WhichOneof("kind") for m in again] == ["pod_status", "pod_terminated"]
    assert cri_pb2.CONTAINER_RUNNING == RUNNING


async def test_container_logs_tail_timestamps_limits_and_partial_lines(tmp_path):
    log = tmp_path / "0.log"
    log.write_bytes(
        b"2026-11-28T10:00:00.000000001Z stdout F one\n"
        b"2026-11-28T10:00:01.000000001Z stderr P tw\n"
        b"2026-11-28T10:00:01.500000001Z stderr F o\n"
        b"2026-11-28T10:00:02.000000001Z stdout F three\n"
    )

    async def read(**options):
        return b"".join([c async for c in read_log(log, LogOptions(**options), lambda: False)])

    assert await read() == b"one\ntwo\nthree\n"
    assert await read(tail_lines=1) == b"three\n"
    assert await read(tail_lines=1, timestamps=True) == b"2026-11-28T10:00:02.000000001Z three\n"
    assert await read(limit_bytes=6) == b"one\ntw"
    since = datetime.datetime(2026, 11, 28, 10, 0, 1, 600000, tzinfo=datetime.UTC)
    assert await read(since=since) == b"three\n"
