"""`ku7s chaos` on a cluster of its own: node faults take effect and revert at the end of
their duration, on Ctrl-C, and on `recover` after the run that made them died; bad input
injects nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import Cluster, new_cluster, run_ku7s


def chaos(cluster: Cluster, *args: str) -> subprocess.Popen[str]:
    """A `ku7s chaos` run in the background, as a user's second terminal would."""
    return subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", *args, "--name", cluster.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **cluster.env},
    )


def status(node: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Status}}", node],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def listed(cluster: Cluster) -> str:
    result = run_ku7s("chaos", "list", "--name", cluster.name, env=cluster.env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_node_faults_hold_for_their_duration_and_always_revert(
    provider: DockerProvider, node_image: str, tmp_path: Path
):
    with new_cluster(provider, tmp_path, "chaos", "--workers", "2") as cluster:
        first, second = sorted(cluster.workers)

        # A paused node stops answering (NotReady) and resumes when the duration is up.
        run = chaos(cluster, "pause", first, "--duration", "12s")
        cluster.wait_for(lambda: status(first) == "paused", timeout=10, what="paused")
        assert "pause" in listed(cluster) and first in listed(cluster)
        cluster.wait_for(lambda: cluster.node_ready()[first] != "True", timeout=15, what="NotReady")
        out, err = run.communicate(timeout=30)
        assert run.returncode == 0, err
        assert "injected pause on" in out and "reverted pause on" in out and "seed" in out
        assert status(first) == "running"
        cluster.wait_for(lambda: cluster.node_ready()[first] == "True", timeout=20, what="Ready")
        reasons = cluster.kubectl(
            "get", "events", "-A", "--field-selector", f"involvedObject.name={first}"
        ).stdout
        assert "ChaosInjected" in reasons and "ChaosReverted" in reasons

        # Ctrl-C reverts at once; the choice by label and seed is printed.
        run = chaos(
            cluster,
            "stop",
            "--labels",
            f"kubernetes.io/hostname={second}",
            "--mode",
            "one",
            "--duration",
            "5m",
        )
        cluster.wait_for(lambda: status(second) == "exited", timeout=20, what="stopped")
        started = time.monotonic()
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=30)
        assert run.returncode == 130
        assert "reverted stop" in out and time.monotonic() - started < 15
        assert status(second) == "running"

        # A run that dies leaves a record; `recover` finds and reverts it.
        run = chaos(cluster, "kill", second, "--duration", "5m")
        cluster.wait_for(lambda: status(second) == "exited", timeout=20, what="killed")
        run.kill()
        run.communicate(timeout=10)
        assert "leftover" in listed(cluster)
        recovered = run_ku7s("chaos", "recover", "--name", cluster.name, env=cluster.env)
        assert recovered.returncode == 0, recovered.stderr
        assert "reverted kill" in recovered.stdout
        assert status(second) == "running"
        assert "No faults in force." in listed(cluster)

        # Bad input: one line, a non-zero status, nothing injected.
        for args, message in (
            (["pause", "nowhere"], 'no node named "nowhere"'),
            (["pause", first, "--duration", "soon"], "invalid duration 'soon'"),
            (["pause", "--mode", "fixed", first], "mode fixed needs --value"),
            (["pause"], "name the nodes to hit"),
            (["recover", "deadbeef"], "no fault 'deadbeef' is in force"),
        ):
            result = run_ku7s("chaos", *args, "--name", cluster.name, env=cluster.env)
            assert result.returncode != 0, args
            assert result.stderr.startswith("ERROR: ") and result.stderr.count("\n") == 1
            assert message in result.stderr, (args, result.stderr)
        assert status(first) == "running" and "No faults in force." in listed(cluster)
