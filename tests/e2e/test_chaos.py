"""`ku7s chaos` on a cluster of its own: node and component faults take effect and revert
at the end of their duration, on Ctrl-C, and on `recover` after the run that made them died;
bad input injects nothing."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import Cluster, chaos, injected, new_cluster, run_ku7s


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


@pytest.fixture(scope="module")
def chaos_cluster(
    provider: DockerProvider, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with new_cluster(provider, tmp_path_factory.mktemp("chaos"), "chaos", "--workers", "2") as c:
        yield c


def test_node_faults_hold_for_their_duration_and_always_revert(chaos_cluster: Cluster):
    cluster = chaos_cluster
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

    # Every fault is counted where Prometheus scrapes the controller manager.
    def counted() -> bool:
        text = scrape(f"{cluster.name}-control-plane", 10257)
        return all(
            f'{series}{{kind="{kind}"}} 1.0' in text
            for series in ("ku7s_chaos_faults_total", "ku7s_chaos_faults_reverted_total")
            for kind in ("pause", "stop", "kill")
        )

    cluster.wait_for(counted, timeout=10, what="the faults counted in the metrics")


def scrape(container: str, port: int) -> str:
    """A component's metrics, from the host, as Prometheus would read them."""
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    address = subprocess.run(
        ["docker", "inspect", "-f", template, container],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def pid_of(container: str, component: str) -> str:
    """The component's pid, or "" between a crash and its restart."""
    return subprocess.run(
        ["docker", "exec", container, "cat", f"/run/ku7s/{component}.pid"],
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_component_faults_freeze_or_crash_one_process(chaos_cluster: Cluster):
    cluster = chaos_cluster
    control_plane = f"{cluster.name}-control-plane"
    worker = sorted(cluster.workers)[0]
    ns = f"c{int(time.time())}"
    cluster.kubectl("create", "namespace", ns)

    def node_of(pod: str) -> str:
        return cluster.get_json("pod", pod, "-n", ns)["spec"].get("nodeName", "")

    # A frozen scheduler leaves a new pod Pending; once it resumes, the pod is placed.
    run = chaos(cluster, "stop-component", "kube-scheduler", "--duration", "6s")
    assert f"stop-component kube-scheduler on {control_plane}" in injected(run)
    cluster.kubectl("run", "waits", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    time.sleep(2)
    assert node_of("waits") == ""
    out, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert "reverted stop-component" in out
    cluster.wait_for(lambda: node_of("waits") != "", timeout=20, what="the pod scheduled")

    # A killed scheduler is restarted by its supervisor (a new process) and schedules again.
    before = pid_of(control_plane, "kube-scheduler")
    killed = run_ku7s(
        "chaos", "kill-component", "kube-scheduler", "--name", cluster.name, env=cluster.env
    )
    assert killed.returncode == 0, killed.stderr
    cluster.wait_for(
        lambda: pid_of(control_plane, "kube-scheduler") not in ("", before),
        timeout=20,
        what="the scheduler restarted",
    )
    cluster.kubectl("run", "after", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    cluster.wait_for(lambda: node_of("after") != "", timeout=30, what="scheduling again")

    # A frozen kubelet stops heartbeating: its node goes NotReady, then Ready again.
    run = chaos(cluster, "stop-component", "kubelet", worker, "--duration", "12s")
    assert worker in injected(run)
    cluster.wait_for(lambda: cluster.node_ready()[worker] != "True", timeout=15, what="NotReady")
    run.communicate(timeout=30)
    cluster.wait_for(lambda: cluster.node_ready()[worker] == "True", timeout=20, what="Ready")

    for args, message in (
        (["kill-component", "kube-dancer"], "unknown component 'kube-dancer'"),
        (["kill-component", "etcd", worker], "etcd runs on the control plane"),
        (["kill-component", "kubelet", control_plane], "kubelet runs on workers"),
    ):
        result = run_ku7s("chaos", *args, "--name", cluster.name, env=cluster.env)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def memory_mib(container: str) -> float:
    """The container's memory less its page cache. Docker's stats come back without memory
    figures when dockerd cannot place the container's cgroups (seen once the host had cgroup
    hierarchies mounted nowhere): ask a few times, then say so."""
    found = DockerProvider.connect().client.containers.get(container)
    for _ in range(10):
        memory = found.stats(stream=False)["memory_stats"]
        if "usage" in memory:
            return (memory["usage"] - memory.get("stats", {}).get("cache", 0)) / 2**20
        time.sleep(0.5)
    raise AssertionError(f"docker stats of {container} gave no memory figures")


def chaos_processes(container: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, "pgrep", "-af", "ku7s-chaos-"],
        capture_output=True,
        text=True,
    ).stdout


def test_pod_faults_and_resource_pressure(chaos_cluster: Cluster):
    cluster = chaos_cluster
    worker = sorted(cluster.workers)[0]
    ns = f"p{int(time.time())}"
    cluster.kubectl("create", "namespace", ns)
    cluster.pinned_pod("victim", worker, ns)

    def restarts() -> int:
        pod = cluster.get_json("pod", "victim", "-n", ns)
        return int(pod["status"]["containerStatuses"][0]["restartCount"])

    killed = run_ku7s(
        "chaos", "kill-container", "victim", "-n", ns, "--name", cluster.name, env=cluster.env
    )
    assert killed.returncode == 0, killed.stderr
    cluster.wait_for(lambda: restarts() == 1, timeout=30, what="the container restarted")

    # CPU burn shows in the node's usage; memory fill in its memory; both leave nothing behind.
    before = memory_mib(worker)
    run = chaos(cluster, "memory-fill", worker, "--size", "300Mi", "--duration", "8s")
    injected(run)
    cluster.wait_for(
        lambda: memory_mib(worker) - before > 250, timeout=6, what="300Mi held in the node"
    )
    run.communicate(timeout=30)
    run = chaos(cluster, "cpu-burn", worker, "--workers", "2", "--duration", "8s")
    injected(run)
    container = DockerProvider.connect().client.containers.get(worker)

    def busy_cores() -> float:
        """The node's CPU over Docker's last one-second sample (which may begin before the
        burn did, so the first one can fall short)."""
        stats = container.stats(stream=False)
        cpu = (
            stats["cpu_stats"]["cpu_usage"]["total_usage"]
            - stats["precpu_stats"]["cpu_usage"]["total_usage"]
        )
        system = stats["cpu_stats"]["system_cpu_usage"] - stats["precpu_stats"]["system_cpu_usage"]
        return cpu / system * stats["cpu_stats"].get("online_cpus", 1)

    cluster.wait_for(
        lambda: busy_cores() > 1.0, timeout=6, interval=0, what="two busy loops above a core"
    )
    run.communicate(timeout=30)
    assert chaos_processes(worker) == ""

    deleted = run_ku7s(
        "chaos", "kill-pod", "victim", "-n", ns, "--name", cluster.name, env=cluster.env
    )
    assert deleted.returncode == 0, deleted.stderr
    cluster.wait_for(
        lambda: not cluster.get_json("pods", "-n", ns)["items"], timeout=20, what="the pod gone"
    )
    for args, message in (
        (["kill-pod", "nobody", "-n", ns], f'no pod named "nobody" in namespace "{ns}"'),
        (["memory-fill", worker, "--size", "lots"], "invalid --size 'lots'"),
    ):
        result = run_ku7s("chaos", *args, "--name", cluster.name, env=cluster.env)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 3
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
"""


def chaos_rules(container: str) -> str:
    """What is left of any fault on a container: its chains, its timers, and the processes
    holding delayed packets."""
    rules = subprocess.run(
        ["docker", "exec", container, "iptables-save"], capture_output=True, text=True
    ).stdout
    processes = subprocess.run(
        ["docker", "exec", container, "pgrep", "-af", "# KU7S-CHAOS|packet_delay"],
        capture_output=True,
        text=True,
    ).stdout
    return "\n".join(line for line in rules.splitlines() if "KU7S-CHAOS" in line) + processes


def round_trips(source: str, destination: str, count: int) -> list[float]:
    """Milliseconds each ping took, from one container to another."""
    out = subprocess.run(
        ["docker", "exec", source, "busybox", "ping", "-c", str(count), "-i", "0.05", destination],
        capture_output=True,
        text=True,
    ).stdout
    lines = [line for line in out.splitlines() if "time=" in line]
    return [float(line.split("time=")[1].split()[0]) for line in lines]


def test_network_faults_partition_and_lose_packets(chaos_cluster: Cluster, tmp_path):
    cluster = chaos_cluster
    first, second = sorted(cluster.workers)
    control_plane = f"{cluster.name}-control-plane"
    ns = f"n{int(time.time())}"
    cluster.kubectl("create", "namespace", ns)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(APP)
    cluster.kubectl("apply", "-n", ns, "-f", str(manifest))
    cluster.kubectl("rollout", "status", "deploy/app", "-n", ns, "--timeout=60s", timeout=70)

    # 30% loss one way shows as 20-40% of 200 pings lost.
    run = chaos(cluster, "loss", first, "--target", second, "--percent", "30", "--duration", "60s")
    assert f"loss 30% {first} -> {second}" in injected(run)
    ping = subprocess.run(
        ["docker", "exec", first, "busybox", "ping", "-q", "-c", "200", "-i", "0.01", second],
        capture_output=True,
        text=True,
    ).stdout
    received = int(ping.split(" packets received")[0].rsplit(" ", 1)[1])
    assert 120 <= received <= 160, ping
    # A contradicting fault on the same link is refused before anything is injected.
    clash = run_ku7s(
        "chaos", "partition", first, "--target", second, "--name", cluster.name, env=cluster.env
    )
    assert clash.returncode == 1 and "already acts on a link of" in clash.stderr
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=30)

    # A worker cut off from the control plane goes NotReady, its pods run elsewhere, and it
    # comes back when the partition ends.
    run = chaos(cluster, "partition", first, "--target", "control-plane", "--duration", "30s")
    injected(run)

    def elsewhere() -> bool:
        pods = cluster.get_json("pods", "-n", ns, "-l", "app=app")["items"]
        placed = [
            p["spec"].get("nodeName")
            for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]
        return len(placed) == 3 and first not in placed

    cluster.wait_for(elsewhere, timeout=30, interval=0.5, what="the pods running elsewhere")
    _, err = run.communicate(timeout=40)
    assert run.returncode == 0, err
    cluster.wait_for(lambda: cluster.node_ready()[first] == "True", timeout=20, what="rejoined")

    # A run that dies: its rules go by themselves at the end of the duration, and `recover`
    # clears what is left of the record.
    run = chaos(cluster, "partition", first, "--target", second, "--duration", "4s")
    injected(run)
    run.kill()
    run.communicate(timeout=10)
    assert chaos_rules(first) or chaos_rules(second)
    cluster.wait_for(
        lambda: not chaos_rules(first) and not chaos_rules(second),
        timeout=15,
        what="the rules removed by their own timer",
    )
    assert "leftover" in listed(cluster)
    assert run_ku7s("chaos", "recover", "--name", cluster.name, env=cluster.env).returncode == 0
    assert "No faults in force." in listed(cluster)
    for container in (first, second, control_plane):
        assert chaos_rules(container) == "", container
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_scenario_runs_its_timeline_and_leaves_nothing(chaos_cluster: Cluster, tmp_path):
    cluster = chaos_cluster
    first, second = sorted(cluster.workers)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"""\
seed: 5
faults:
- fault: pause
  targets: {first}
  duration: 3s
- fault: partition
  targets: [{second}]
  target: host
  at: 1s
  duration: 3s
- fault: kill-component
  component: kube-controller-manager
  at: 2s
"""
    )
    started = time.monotonic()
    result = run_ku7s("chaos", "run", str(scenario), "--name", cluster.name, env=cluster.env)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "seed 5" in lines[0]
    summary = lines[lines.index("summary:") + 1 :]
    assert [line.split()[-1] for line in summary] == ["reverted", "reverted", "done"]
    assert "partition" in summary[1] and f"{second} <-> host" in summary[1]
    assert took < 30
    assert status(first) == "running" and "No faults in force." in listed(cluster)
    for container in (first, second):
        assert chaos_rules(container) == ""

    scenario.write_text("faults:\n- fault: pause\n  targets: nowhere\n")
    bad = run_ku7s("chaos", "run", str(scenario), "--name", cluster.name, env=cluster.env)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        f'ERROR: {scenario}: line 2: no node named "nowhere" in cluster "{cluster.name}"'
    )


RECEIVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9999)); s.listen(8)
while True:
    c, _ = s.accept()
    while c.recv(65536): pass
    c.close()
"""
SENDER = """
import socket, sys, time
started = time.time()
s = socket.create_connection((sys.argv[1], 9999)); s.sendall(b"x" * int(sys.argv[2]))
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(int(sys.argv[2]) * 8 / (time.time() - started))
"""


def test_bandwidth_holds_traffic_to_its_rate(chaos_cluster: Cluster):
    cluster = chaos_cluster
    first, second = sorted(cluster.workers)
    subprocess.run(["docker", "exec", "-d", second, "python3", "-c", RECEIVER], check=True)
    time.sleep(0.5)

    def bits_per_second(size: int) -> float:
        out = subprocess.run(
            ["docker", "exec", first, "python3", "-c", SENDER, second, str(size)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return float(out)

    assert bits_per_second(4_000_000) > 50e6  # unlimited: far above the limit below
    run = chaos(
        cluster, "bandwidth", first, "--target", second, "--rate", "8mbit", "--duration", "60s"
    )
    assert f"bandwidth 8mbit {first} -> {second}" in injected(run)
    limited = bits_per_second(3_000_000)
    assert 5e6 < limited < 9e6, limited
    again = run_ku7s(
        "chaos", "bandwidth", first, "--target", second, "--name", cluster.name, env=cluster.env
    )
    assert again.returncode == 1 and "already in force" in again.stderr
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=30)
    assert bits_per_second(4_000_000) > 50e6
    qdisc = subprocess.run(
        ["docker", "exec", first, "tc", "qdisc", "show", "dev", "eth0"],
        capture_output=True,
        text=True,
    ).stdout
    assert "htb" not in qdisc and chaos_processes(first) == ""
    subprocess.run(["docker", "exec", second, "pkill", "-f", "9999"], capture_output=True)


def test_latency_shows_in_round_trips_and_leaves_no_process(chaos_cluster: Cluster):
    cluster = chaos_cluster
    first, second = sorted(cluster.workers)
    assert max(round_trips(first, second, 10)) < 50
    bad = run_ku7s(
        "chaos", "latency", first, "--delay", "soon", "--name", cluster.name, env=cluster.env
    )
    assert bad.returncode == 1 and "invalid --delay 'soon'" in bad.stderr
    run = chaos(
        cluster,
        "latency",
        first,
        "--target",
        second,
        "--delay",
        "200ms",
        "--jitter",
        "20ms",
        "--duration",
        "60s",
    )
    assert f"latency 200ms±20ms {first} -> {second}" in injected(run)
    delayed = round_trips(first, second, 40)
    assert len(delayed) == 40  # held, not lost
    assert min(delayed) >= 180 and max(delayed) <= 260, delayed
    assert 190 <= sum(delayed) / len(delayed) <= 215, delayed
    assert "packet_delay" in chaos_rules(second)
    # TCP goes through the held queue too, slower but whole.
    subprocess.run(["docker", "exec", "-d", second, "python3", "-c", RECEIVER], check=True)
    time.sleep(0.5)
    sent = subprocess.run(
        ["docker", "exec", first, "python3", "-c", SENDER, second, "200000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    subprocess.run(["docker", "exec", second, "pkill", "-f", "9999"], capture_output=True)
    run.send_signal(signal.SIGINT)
    out, _ = run.communicate(timeout=30)
    assert "reverted latency" in out
    assert max(round_trips(first, second, 10)) < 50
    for container in (first, second, f"{cluster.name}-control-plane"):
        assert chaos_rules(container) == "", container
