"""What the kubelet does next about one container, by restart policy and back-off, and the
files it writes for a pod (hosts file, termination message), without a runtime."""

from __future__ import annotations

import pytest

from node_image.kubelet import container_config as cc
from node_image.kubelet.etc_hosts import hosts_file
from node_image.kubelet.pod_status import (
    CREATED,
    EXITED,
    RUNNING,
    ContainerRecord,
    Observed,
    observe,
)
from node_image.kubelet.restart_backoff import RestartBackoff
from node_image.kubelet.restart_policy import (
    BACK_OFF,
    CREATE,
    DONE,
    KEEP,
    REPLACE,
    START,
    next_step,
)
from node_image.kubelet.termination_message import termination_message

APP = {"name": "app", "image": "busybox"}
SECOND = 1_000_000_000


def record(state: int, exit_code: int = 0, sandbox: str = "s1", restarts: int = 0,
           spec_hash: str = "") -> ContainerRecord:  # fmt: skip
    return ContainerRecord("c1", "app", sandbox, state, restarts, spec_hash,
                           started_at=100 * SECOND, finished_at=101 * SECOND,
                           exit_code=exit_code)  # fmt: skip


def step(latest, policy="Always", init=False, anyway=False, backoff=None):
    return next_step(APP, latest, "s1", policy, init=init, restart_anyway=anyway,
                     backoff=backoff or RestartBackoff(clock=lambda: 101.0))  # fmt: skip


def test_new_running_created_and_changed_containers():
    assert step(None).action == CREATE
    assert step(record(RUNNING, spec_hash=cc.spec_hash(APP))).action == KEEP
    assert step(record(RUNNING, spec_hash="other")).action == REPLACE
    assert step(record(CREATED)).action == START
    # running in a sandbox that is gone: a new one is made
    assert step(record(RUNNING, sandbox="old")).action == CREATE


@pytest.mark.parametrize(
    ("policy", "exit_code", "init", "action"),
    [
        ("Always", 0, False, CREATE),
        ("OnFailure", 0, False, DONE),
        ("OnFailure", 1, False, CREATE),
        ("Never", 1, False, DONE),
        ("Always", 0, True, DONE),  # an init container that succeeded is done
        ("Always", 1, True, CREATE),
        ("Never", 1, True, DONE),
    ],
)
def test_restart_policy_decides_after_an_exit(policy, exit_code, init, action):
    decided = step(record(EXITED, exit_code, restarts=2), policy, init)
    assert decided.action == action
    if action == CREATE:
        assert decided.restart_count == 3


def test_a_failed_probe_restarts_whatever_the_policy_and_back_off_doubles():
    assert step(record(EXITED, 0), "Never", anyway=True).action == CREATE
    now = [101.0]
    backoff = RestartBackoff(clock=lambda: now[0])
    assert step(record(EXITED, 1), backoff=backoff).action == CREATE  # the first: at once
    waiting = step(record(EXITED, 1), backoff=backoff)
    assert (waiting.action, waiting.wait, waiting.delay) == (BACK_OFF, 10.0, 10.0)
    now[0] = 111.5
    assert step(record(EXITED, 1), backoff=backoff).action == CREATE
    assert backoff.delay("app") == 20.0


def test_hosts_file_names_the_pod_and_its_aliases():
    pod = {"metadata": {"name": "web"}, "spec": {"hostname": "front", "hostAliases": [
        {"ip": "10.0.0.9", "hostnames": ["db", "db.local"]}]}}  # fmt: skip
    lines = hosts_file(pod, "10.244.1.5").splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file." and "127.0.0.1\tlocalhost" in lines
    assert lines[-2:] == ["10.244.1.5\tfront", "10.0.0.9\tdb db.local"]


def test_termination_message_from_the_log_file_then_the_logs_on_error(tmp_path):
    written = tmp_path / "termination-log"
    written.write_text("bye")
    assert termination_message(written, {}, 1, "", "runtime") == "bye"
    empty = tmp_path / "empty"
    empty.write_text("")
    logs = tmp_path / "0.log"
    logs.write_text("2026-12-03T00:00:00Z stderr F boom\n")
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    assert termination_message(empty, fallback, 1, str(logs), "runtime") == "boom"
    assert termination_message(empty, fallback, 0, str(logs), "runtime") == "runtime"
    assert termination_message(empty, {}, 1, str(logs), "runtime") == "runtime"


class Probes:
    def __init__(self, ready: bool, started: bool) -> None:
        self.ready, self.started = ready, started


def test_observe_keeps_the_newest_two_instances_and_readiness_by_probes():
    observed = Observed()
    first = ContainerRecord("a0", "app", "s1", EXITED, restart_count=0, exit_code=1)
    second = ContainerRecord("a1", "app", "s1", RUNNING, restart_count=1)
    side = ContainerRecord("b0", "side", "s1", RUNNING)
    observe(observed, [second, side, first], {"a1": Probes(ready=False, started=True)})
    assert observed.latest == {"app": second, "side": side}
    assert observed.previous == {"app": first}
    assert observed.ready == {"side"} and observed.started == {"app", "side"}
