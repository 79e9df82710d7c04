"""The pytest plugin as its users meet it: a test file of theirs using ``ku7s_cluster`` and
``chaos``, run by pytest in a process of its own; faults revert after each test, also a
failing one, and the cluster is gone at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import network_name
from tests.e2e.conftest import run_ku7s, unique

USER_TESTS = """
import subprocess


def status(node):
    return subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Status}}", node], capture_output=True, text=True
    ).stdout.strip()


def rules(node):
    return subprocess.run(
        ["docker", "exec", node, "iptables-save"], capture_output=True, text=True
    ).stdout


def test_a_partition_holds_inside_the_block(ku7s_cluster, chaos):
    [worker] = ku7s_cluster.workers
    with chaos.partition(worker, target="control-plane"):
        assert "KU7S-CHAOS" in rules(worker)
    assert "KU7S-CHAOS" not in rules(worker)


def test_fails_with_its_node_paused(ku7s_cluster, chaos):
    chaos.pause(ku7s_cluster.workers[0]).__enter__()
    assert status(ku7s_cluster.workers[0]) == "paused"
    raise AssertionError("this test fails on purpose")


def test_the_pause_was_reverted(ku7s_cluster):
    assert status(ku7s_cluster.workers[0]) == "running"
    assert "No faults in force." in subprocess.run(
        ["python", "-m", "ku7s", "chaos", "list", "--name", ku7s_cluster.name],
        capture_output=True, text=True, env=ku7s_cluster.env,
    ).stdout
"""


def test_the_plugin_gives_a_cluster_and_reverts_every_fault(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    (tmp_path / "test_users.py").write_text(USER_TESTS.replace('"python"', repr(sys.executable)))
    name = unique("plug")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ku7s-workers",
            "1",
            "--ku7s-name",
            name,
            "test_users.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert "1 failed, 2 passed" in result.stdout, result.stdout + result.stderr
        assert "this test fails on purpose" in result.stdout
        assert not provider.cluster_containers(name)  # deleted at the end of the session
    finally:
        subprocess.run(
            [sys.executable, "-m", "ku7s", "delete", "cluster", "--name", name],
            capture_output=True,
            env={**os.environ, "KUBECONFIG": str(tmp_path / "cleanup-kubeconfig")},
        )


WAITING_TEST = """
import pathlib
import time


def test_waits(ku7s_cluster):
    pathlib.Path("started").write_text(ku7s_cluster.name)
    time.sleep(600)
"""


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_an_interrupted_session_leaves_no_cluster(
    provider: DockerProvider, node_image: str, tmp_path
):
    """Ctrl-C while the cluster is being created, and SIGTERM (a CI runner's timeout) while
    a test runs: either way the cluster is gone when pytest has ended."""
    (tmp_path / "test_waiting.py").write_text(WAITING_TEST)
    for sig, moment in ((signal.SIGINT, "creating"), (signal.SIGTERM, "testing")):
        name = unique("plugi")
        (tmp_path / "started").unlink(missing_ok=True)
        session = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--ku7s-workers", "1", "--ku7s-name", name, "test_waiting.py"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            if moment == "creating":
                _wait_until(
                    lambda name=name: bool(provider.cluster_containers(name)),
                    120,
                    "the first node container",
                )
            else:
                _wait_until((tmp_path / "started").exists, 120, "the test to start")
            session.send_signal(sig)
            output, _ = session.communicate(timeout=120)
            assert session.returncode != 0, output
            assert provider.cluster_objects(name, network_name(name)) == [], output
        finally:
            session.kill()
            session.communicate()
            run_ku7s("delete", "cluster", "--name", name)
