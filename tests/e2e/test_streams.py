"""Streams never lose output: every byte a process writes before it exits reaches the client
before the session closes, and the exit status comes after it; for exec, attach and `kubectl
run -i`, with kubectl and with the Python client. Each case runs 20 times in a row, and once
more with the pod's node busy burning both cores, so a race shows up here and not on users'
machines."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.stream import stream

from tests.e2e.conftest import Cluster, unique

ROUNDS = 20
TEN_MB = 10 * 2**20
INTERLEAVED = "for i in $(seq 1 200); do echo out $i; echo err $i >&2; done"


@pytest.fixture(scope="module")
def talker(cluster: Cluster) -> Iterator[tuple[str, str]]:
    """A long-running busybox pod in a namespace of its own: (namespace, node)."""
    ns = unique("streams")
    cluster.kubectl("create", "namespace", ns)
    node = sorted(cluster.workers)[0]
    cluster.pinned_pod("talker", node, ns)
    try:
        yield ns, node
    finally:
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig)))


def python_exec(core: k8s.CoreV1Api, ns: str, command: list[str]) -> tuple[str, str, int]:
    session = stream(
        core.connect_get_namespaced_pod_exec, "talker", ns, command=command,
        stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
    )  # fmt: skip
    session.run_forever(timeout=60)
    return session.read_stdout(), session.read_stderr(), session.returncode


def exec_cases(cluster: Cluster, core: k8s.CoreV1Api, ns: str, rounds: int) -> None:
    """The fast, the large and the interleaved, through kubectl and the Python client."""
    expected_out = "".join(f"out {i}\n" for i in range(1, 201))
    expected_err = "".join(f"err {i}\n" for i in range(1, 201))
    for attempt in range(rounds):
        fast = cluster.kubectl(
            "exec", "talker", "-n", ns, "--", "sh", "-c", "echo hi; exit 3", check=False
        )
        assert (fast.stdout, fast.returncode) == ("hi\n", 3), (attempt, fast.stderr)
        assert python_exec(core, ns, ["sh", "-c", "echo from python; exit 5"]) == (
            "from python\n", "", 5,
        ), attempt  # fmt: skip
        large = subprocess.run(
            [*cluster.kubectl_argv(), "exec", "talker", "-n", ns, "--",
             "head", "-c", str(TEN_MB), "/dev/zero"],
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert (len(large.stdout), large.returncode) == (TEN_MB, 0), attempt
        mixed = cluster.kubectl("exec", "talker", "-n", ns, "--", "sh", "-c", INTERLEAVED)
        assert (mixed.stdout, mixed.stderr) == (expected_out, expected_err), attempt
        assert python_exec(core, ns, ["sh", "-c", INTERLEAVED]) == (expected_out, expected_err, 0)
    out, _, code = python_exec(core, ns, ["head", "-c", str(TEN_MB), "/dev/zero"])
    assert (len(out), code) == (TEN_MB, 0)


def test_exec_output_arrives_whole_before_the_exit_status(cluster: Cluster, core, talker):
    ns, _ = talker
    exec_cases(cluster, core, ns, ROUNDS)


def read_line(pipe, timeout: float) -> str:
    """One line from a pipe, waiting at most timeout seconds (readline alone could hang)."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([pipe], [], [], remaining)[0]:
            break
        chunk = os.read(pipe.fileno(), 1)
        if not chunk:
            break
        line += chunk
    return line.decode()


def test_input_line_by_line_gets_its_replies_at_once(cluster: Cluster, core, talker):
    ns, _ = talker
    for binary in (False, True):
        session = stream(
            core.connect_get_namespaced_pod_exec, "talker", ns, command=["/bin/sh"],
            stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False, binary=binary,
        )  # fmt: skip
        for i in range(ROUNDS):
            text = f"echo test string {i}\n"
            session.write_stdin(text.encode() if binary else text)
            reply = session.readline_stdout(timeout=5)
            assert reply == (f"test string {i}".encode() if binary else f"test string {i}")
        session.write_stdin(b"exit\n" if binary else "exit\n")
        session.run_forever(timeout=10)
        assert session.returncode == 0
    shell = subprocess.Popen(
        [*cluster.kubectl_argv(), "exec", "-i", "talker", "-n", ns, "--", "sh"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert shell.stdin is not None
        for i in range(ROUNDS):
            shell.stdin.write(f"echo line {i}\n".encode())
            shell.stdin.flush()
            assert read_line(shell.stdout, 5) == f"line {i}\n"
        shell.stdin.write(b"exit 7\n")
        shell.stdin.close()
        assert shell.wait(timeout=10) == 7
    finally:
        shell.kill()


def test_run_i_prints_what_a_short_command_wrote(cluster: Cluster, talker):
    """`kubectl run -i --rm` of a command that is done in a moment: the output is there,
    every time (it used to come only when the command outlived the attach)."""
    ns, _ = talker
    for attempt in range(ROUNDS):
        result = cluster.kubectl(
            "run", f"once{attempt}", "-n", ns, "-i", "--rm", "--restart=Never",
            "--image=busybox", "--", "echo", "hello", timeout=90,
        )  # fmt: skip
        assert "hello\n" in result.stdout, (attempt, result.stdout, result.stderr)
        assert "couldn't attach" not in result.stderr, attempt


def test_python_attach_to_a_one_client_container_gets_all_its_output(
    cluster: Cluster, core, talker
):
    """The Python client's attach to pods made as `kubectl run -i` makes them (stdin,
    stdinOnce): the first attach gets everything, what was written before it came too, and
    its input reaches the container."""
    ns, node = talker
    names = [f"py-once{i}" for i in range(ROUNDS)]
    for name in names:
        core.create_namespaced_pod(ns, {
            "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{
                "name": "c", "image": "busybox", "stdin": True, "stdinOnce": True,
                "command": ["sh", "-c", "echo one; echo two >&2; read line; echo got $line"],
            }]},
        })  # fmt: skip
    for name in names:
        cluster.wait_for(
            lambda name=name: core.read_namespaced_pod(name, ns).status.phase == "Running",
            60, what=f"{name} running",
        )  # fmt: skip
        session = stream(
            core.connect_get_namespaced_pod_attach, name, ns,
            stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False,
        )  # fmt: skip
        assert session.readline_stdout(timeout=10) == "one", name
        session.write_stdin("bye\n")
        session.run_forever(timeout=30)
        assert (session.read_stdout(), session.read_stderr()) == ("got bye\n", "two\n"), name


def test_attach_gets_everything_written_after_it(cluster: Cluster, talker):
    ns, node = talker
    counting = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"
    cluster.pinned_pod("ticker", node, ns, command=("sh", "-c", counting))
    process = subprocess.Popen(
        [*cluster.kubectl_argv(), "attach", "ticker", "-n", ns],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        ticks = [read_line(process.stdout, 15) for _ in range(60)]
        numbers = [int(line.split()[1]) for line in ticks]
        assert numbers == list(range(numbers[0], numbers[0] + 60)), ticks
    finally:
        process.kill()
        process.wait()


def test_streams_hold_while_the_node_burns_both_cores(cluster: Cluster, core, talker):
    ns, node = talker
    burn = subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", "cpu-burn", node, "--workers", "4",
         "--duration", "300s", "--name", cluster.name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **cluster.env},
    )  # fmt: skip
    try:
        assert burn.stdout is not None
        assert "injected" in burn.stdout.readline()
        exec_cases(cluster, core, ns, 5)
        for attempt in range(5):
            result = cluster.kubectl(
                "run", f"busy{attempt}", "-n", ns, "-i", "--rm", "--restart=Never",
                "--image=busybox", f"--overrides={{\"spec\":{{\"nodeName\":\"{node}\"}}}}",
                "--", "echo", "hello", timeout=120,
            )  # fmt: skip
            assert "hello\n" in result.stdout, (attempt, result.stderr)
    finally:
        burn.send_signal(2)
        burn.communicate(timeout=60)
