"""Benchmark: `kubectl exec` round trips and port-forward throughput on a warm cluster.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_streams.py [--execs 50] [--megabytes 100]

1. `kubectl exec POD -- true`, one after another: p50 and p99 of the whole command (goal:
   150 / 300 ms), beside the floors measured inside the node in the same run: containerd's
   own client (`ctr task exec`) and `runc exec`, which the kubelet uses.
2. Port-forward: a GET of a file of random bytes from nginx through `kubectl port-forward`
   (1.33: SPDY tunnelled in a WebSocket), against the same GET straight to the pod's IP from
   the host, through a route to the pod network via the node's address added for the run
   (goal: port-forward >= 50 % of direct).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_pods import ku7s, percentile

#: Times a command inside the node, `count` times: one duration in seconds per line.
FLOOR = r"""
import subprocess, sys, time
count, argv = int(sys.argv[1]), sys.argv[2:]
for i in range(count):
    started = time.monotonic()
    subprocess.run([a.replace("{i}", str(i)) for a in argv], check=True, capture_output=True)
    print(time.monotonic() - started)
"""


#: The kubectl binary itself: /usr/bin/kubectl here is gcloud's wrapper, which adds ~70 ms.
KUBECTL = next(
    (p for p in ("/usr/lib/google-cloud-sdk/bin/kubectl.1.33",) if Path(p).exists()), "kubectl"
)


def kubectl(kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def figures(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{name}: p50 {percentile(ms, 0.5):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms"


def exec_round_trips(kubeconfig: Path, node: str, count: int) -> None:
    for _ in range(3):  # warm: kubectl's discovery cache, the API server's connection
        kubectl(kubeconfig, "exec", "talker", "--", "true")
    seconds, starts = [], []
    for _ in range(count):
        started = time.monotonic()
        kubectl(kubeconfig, "exec", "talker", "--", "true")
        seconds.append(time.monotonic() - started)
        started = time.monotonic()
        kubectl(kubeconfig, "config", "current-context")
        starts.append(time.monotonic() - started)
    status = json.loads(kubectl(kubeconfig, "get", "pod", "talker", "-o", "json"))
    container = status["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    floors = {
        "ctr task exec (inside the node)": [
            "ctr", "-n", "k8s.io", "task", "exec", "--exec-id", "bench-{i}", container, "true",
        ],
        "runc exec (inside the node)": [
            "runc", "--root", "/run/containerd/runc/k8s.io", "exec", container, "true",
        ],
    }  # fmt: skip
    print(figures("kubectl exec POD -- true", seconds) + "  (goal: 150 / 300 ms)")
    print("  " + figures("kubectl's own start (kubectl config current-context)", starts))
    for name, argv in floors.items():
        out = subprocess.run(
            ["docker", "exec", node, "python3", "-c", FLOOR, str(count), *argv],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print("  " + figures(name, [float(line) for line in out.split()]))


def busy_cores(since: tuple[int, int] | None = None) -> Any:
    """/proc/stat's (total, idle) jiffies; with `since`, the share of busy time since then."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    now = (sum(values), values[3] + values[4])
    if since is None:
        return now
    return 1 - (now[1] - since[1]) / max(1, now[0] - since[0])


def host_pids(container: str, pattern: str) -> list[int]:
    """Host PIDs of a container's processes whose command line contains `pattern`."""
    out = subprocess.run(
        ["docker", "top", container, "-eo", "pid,args"], check=True, capture_output=True, text=True
    ).stdout
    return [int(line.split()[0]) for line in out.splitlines()[1:] if pattern in line]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes so far (clock ticks from /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def megabytes_per_second(url: str, size: int, rounds: int = 3) -> float:
    rates = []
    for _ in range(rounds):
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=300) as response:
            got = len(response.read())
        if got != size:
            raise SystemExit(f"{url} gave {got} bytes, not {size}")
        rates.append(size / 2**20 / (time.monotonic() - started))
    return statistics.median(rates)


def port_forward_throughput(kubeconfig: Path, node: str, megabytes: int) -> None:
    size = megabytes * 2**20
    kubectl(
        kubeconfig, "exec", "web", "--", "sh", "-c",
        f"head -c {size} /dev/urandom > /usr/share/nginx/html/big",
    )  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    forward = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "port-forward", "pod/web", f"{port}:80"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert forward.stdout is not None
        forward.stdout.readline()
        parts = {
            "kubectl": [forward.pid],
            "kube-apiserver": host_pids(node.rsplit("-", 1)[0] + "-control-plane", "apiserver"),
            "kubelet": host_pids(node, "node_image.kubelet"),
            "docker-proxy": [int(p) for p in subprocess.run(
                ["pgrep", "-f", "docker-proxy"], capture_output=True, text=True
            ).stdout.split()],
        }  # fmt: skip
        spent = {name: cpu_seconds(pids) for name, pids in parts.items()}
        before = busy_cores()
        forwarded = megabytes_per_second(f"http://127.0.0.1:{port}/big", size)
        busy = busy_cores(before)
        gigabytes = 3 * size / 2**30  # megabytes_per_second's three rounds
        spent = {name: (cpu_seconds(parts[name]) - s) / gigabytes for name, s in spent.items()}
    finally:
        forward.kill()
    pod = json.loads(kubectl(kubeconfig, "get", "pod", "web", "-o", "json"))
    pod_ip = pod["status"]["podIP"]
    node_ip = subprocess.run(
        ["docker", "inspect", "-f",
         "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", node],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    route = ["ip", "route", "add", f"{pod_ip}/32", "via", node_ip]
    subprocess.run(route, check=True)
    try:
        direct = megabytes_per_second(f"http://{pod_ip}/big", size)
    finally:
        subprocess.run(["ip", "route", "del", f"{pod_ip}/32"], check=False)
    print(
        f"GET of {megabytes} MB: kubectl port-forward {forwarded:.0f} MB/s, straight to the "
        f"pod IP {direct:.0f} MB/s: {forwarded / direct:.0%} of direct (goal >= 50 %); the "
        f"machine's cores were {busy:.0%} busy during the port-forward"
    )
    print(
        "  CPU seconds per GB forwarded: "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in spent.items())
        + f"; kubectl's own share caps the rate at {1024 / spent['kubectl']:.0f} MB/s per core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execs", type=int, default=50)
    parser.add_argument("--megabytes", type=int, default=100)
    args = parser.parse_args()
    name = f"bench-streams-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        env = {"KUBECONFIG": str(kubeconfig)}
        ku7s("create", "cluster", "--name", name, "--workers", "1", env=env)
        try:
            node = f"{name}-worker"
            for pod, image in (("talker", "busybox"), ("web", "nginx")):
                command = ["--", "sleep", "3600"] if image == "busybox" else []
                kubectl(kubeconfig, "run", pod, f"--image={image}", *command)
            kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod/talker", "pod/web")
            exec_round_trips(kubeconfig, node, args.execs)
            port_forward_throughput(kubeconfig, node, args.megabytes)
        finally:
            ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
