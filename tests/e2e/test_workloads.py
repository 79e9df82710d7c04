"""Pods really run: Deployments, Jobs, probes, restarts, logs and exec on the shared cluster,
each test in a namespace of its own, deleted afterwards."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.stream import portforward, stream

from tests.e2e.conftest import Cluster, free_port, run_ku7s, unique


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("wl") as name:
        yield name


def apply(cluster: Cluster, ns: str, manifest: str, tmp_path: Path) -> None:
    path = tmp_path / f"{unique('m')}.yaml"
    path.write_text(textwrap.dedent(manifest))
    cluster.kubectl("apply", "-n", ns, "-f", str(path))


def pods(cluster: Cluster, ns: str, selector: str = "") -> list[dict]:
    args = ["pods", "-n", ns] + (["-l", selector] if selector else [])
    return cluster.get_json(*args)["items"]


def running(pod: dict) -> bool:
    return pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def node_exec(node: str, *command: str) -> str:
    return subprocess.run(
        ["docker", "exec", node, *command], capture_output=True, text=True, check=True
    ).stdout


def fetch_from_node(node: str, url: str) -> str:
    """GET url from inside a node container (pod IPs are routed there)."""
    script = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    )
    return node_exec(node, "python3", "-c", script)


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        ports: [{containerPort: 80, name: http}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
"""


def test_a_deployment_spreads_over_the_workers_and_serves_from_each_pod(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(cluster, ns, DEPLOYMENT, tmp_path)
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=100)
    web = pods(cluster, ns, "app=web")
    assert len(web) == 3
    assert len({p["spec"]["nodeName"] for p in web}) == 3, [p["spec"]["nodeName"] for p in web]
    for pod in web:
        page = fetch_from_node(pod["spec"]["nodeName"], f"http://{pod['status']['podIP']}/")
        assert "Welcome to nginx!" in page
        # The container runs in the node's containerd, under the id the status reports.
        container_id = pod["status"]["containerStatuses"][0]["containerID"].split("//")[1]
        listing = node_exec(
            pod["spec"]["nodeName"], "ctr", "-n", "k8s.io", "containers", "ls", "-q"
        )
        assert container_id in listing


def test_scaling_a_rolling_update_and_undo(cluster: Cluster, ns: str, tmp_path: Path):
    apply(cluster, ns, DEPLOYMENT.replace("replicas: 3", "replicas: 2"), tmp_path)
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=100)

    def ready_replicas() -> int:
        return cluster.get_json("deploy", "web", "-n", ns)["status"].get("readyReplicas", 0)

    cluster.kubectl("scale", "deploy/web", "-n", ns, "--replicas=4")
    cluster.wait_for(lambda: ready_replicas() == 4, timeout=60, what="4 ready replicas")
    cluster.kubectl("scale", "deploy/web", "-n", ns, "--replicas=2")
    cluster.wait_for(
        lambda: len([p for p in pods(cluster, ns, "app=web") if running(p)]) == 2,
        timeout=60,
        what="scaled down to 2",
    )
    cluster.kubectl("set", "image", "deploy/web", "-n", ns, "nginx=nginx:1.22")
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=100)
    images = {
        p["spec"]["containers"][0]["image"] for p in pods(cluster, ns, "app=web") if running(p)
    }
    assert images == {"nginx:1.22"}
    history = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout
    assert "1 " in history and "2 " in history
    cluster.kubectl("rollout", "undo", "deploy/web", "-n", ns)
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=100)
    deployment = cluster.get_json("deploy", "web", "-n", ns)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:latest"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    before = {p["metadata"]["name"] for p in pods(cluster, ns, "app=web")}
    cluster.kubectl("rollout", "restart", "deploy/web", "-n", ns)
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=90s", timeout=100)
    cluster.wait_for(
        lambda: {
            p["metadata"]["name"] for p in pods(cluster, ns, "app=web") if running(p)
        }.isdisjoint(before),
        timeout=60,
        what="every pod replaced by the restart",
    )
    restarted = [p for p in pods(cluster, ns, "app=web") if running(p)]
    assert len(restarted) == 2
    assert all(
        "kubectl.kubernetes.io/restartedAt" in p["metadata"]["annotations"] for p in restarted
    )


def test_a_killed_container_is_restarted(cluster: Cluster, ns: str):
    cluster.kubectl("run", "victim", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    cluster.wait_for(
        lambda: running(cluster.get_json("pod", "victim", "-n", ns)), 60, what="Running"
    )
    pod = cluster.get_json("pod", "victim", "-n", ns)
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("//")[1]
    node_exec(
        pod["spec"]["nodeName"],
        "ctr",
        "-n",
        "k8s.io",
        "tasks",
        "kill",
        "-s",
        "SIGKILL",
        container_id,
    )

    def restarted() -> bool:
        status = cluster.get_json("pod", "victim", "-n", ns)["status"]["containerStatuses"][0]
        return status["restartCount"] >= 1 and "running" in status["state"]

    cluster.wait_for(restarted, timeout=30, what="restart count to rise")
    last = cluster.get_json("pod", "victim", "-n", ns)["status"]["containerStatuses"][0]
    assert last["lastState"]["terminated"]["exitCode"] == 137


def test_probes_restart_and_unready_pods(cluster: Cluster, ns: str, tmp_path: Path):
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: sick}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: busybox
            command: [sh, -c, "touch /tmp/alive; sleep 3600"]
            livenessProbe:
              exec: {command: [cat, /tmp/alive]}
              periodSeconds: 1
              failureThreshold: 2
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: ready}
        spec:
          replicas: 2
          selector: {matchLabels: {app: ready}}
          template:
            metadata: {labels: {app: ready}}
            spec:
              containers:
              - name: c
                image: busybox
                command: [sh, -c, "touch /tmp/ready; sleep 3600"]
                readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1}
        """,
        tmp_path,
    )
    cluster.kubectl("rollout", "status", "deploy/ready", "-n", ns, "--timeout=60s", timeout=70)
    cluster.wait_for(
        lambda: running(cluster.get_json("pod", "sick", "-n", ns)), 60, what="sick runs"
    )
    cluster.kubectl("exec", "sick", "-n", ns, "--", "rm", "/tmp/alive")

    def restarted() -> bool:
        status = cluster.get_json("pod", "sick", "-n", ns)["status"]["containerStatuses"][0]
        return status["restartCount"] >= 1

    cluster.wait_for(restarted, timeout=30, what="liveness restart")
    events = cluster.kubectl(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.name=sick"
    ).stdout
    assert "Liveness probe failed" in events
    victim = pods(cluster, ns, "app=ready")[0]["metadata"]["name"]
    cluster.kubectl("exec", victim, "-n", ns, "--", "rm", "/tmp/ready")
    cluster.wait_for(
        lambda: cluster.get_json("deploy", "ready", "-n", ns)["status"].get("readyReplicas") == 1,
        timeout=30,
        what="one ready replica",
    )
    pod = cluster.get_json("pod", victim, "-n", ns)
    assert running(pod) and not pod["status"]["containerStatuses"][0]["ready"]


def test_a_pod_too_big_for_any_node_stays_pending_with_the_reason(cluster: Cluster, ns: str):
    overrides = json.dumps(
        {
            "spec": {
                "containers": [
                    {
                        "name": "big",
                        "image": "busybox",
                        "command": ["sleep", "3600"],
                        "resources": {"requests": {"cpu": "1000"}},
                    }
                ]
            }
        }
    )
    cluster.kubectl("run", "big", "-n", ns, "--image=busybox", f"--overrides={overrides}")
    workers = len(cluster.workers)

    def reason() -> str:
        pod = cluster.get_json("pod", "big", "-n", ns)
        scheduled = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
        return scheduled[0].get("message", "") if scheduled else ""

    cluster.wait_for(lambda: "Insufficient cpu" in reason(), timeout=30, what="FailedScheduling")
    assert reason() == f"0/{workers} nodes are available: {workers} Insufficient cpu."
    assert cluster.get_json("pod", "big", "-n", ns)["status"]["phase"] == "Pending"
    events = cluster.kubectl("get", "events", "-n", ns).stdout
    assert "FailedScheduling" in events


def test_a_job_completes(cluster: Cluster, ns: str, tmp_path: Path):
    apply(
        cluster,
        ns,
        """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: count}
        spec:
          completions: 3
          parallelism: 2
          template:
            spec:
              restartPolicy: Never
              containers: [{name: c, image: busybox, command: [sh, -c, "echo counted"]}]
        """,
        tmp_path,
    )
    cluster.kubectl(
        "wait", "--for=condition=complete", "job/count", "-n", ns, "--timeout=60s", timeout=70
    )
    job = cluster.get_json("job", "count", "-n", ns)
    assert job["status"]["succeeded"] == 3
    logs = cluster.kubectl("logs", "job/count", "-n", ns).stdout
    assert logs.strip() == "counted"


def test_logs_and_exec_with_exit_codes(cluster: Cluster, ns: str):
    cluster.kubectl(
        "run",
        "talker",
        "-n",
        ns,
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo first; echo second; sleep 1; echo third; sleep 3600",
    )
    cluster.wait_for(
        lambda: "third" in cluster.kubectl("logs", "talker", "-n", ns, check=False).stdout,
        timeout=60,
        what="three log lines",
    )
    assert cluster.kubectl("logs", "talker", "-n", ns, "--tail=1").stdout == "third\n"
    stamped = cluster.kubectl("logs", "talker", "-n", ns, "--timestamps", "--tail=1").stdout
    assert stamped.endswith(" third\n") and stamped[:4].isdigit()
    follow = subprocess.Popen(
        [*cluster.kubectl_argv(), "logs", "-f", "talker", "-n", ns],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert [follow.stdout.readline() for _ in range(3)] == ["first\n", "second\n", "third\n"]
        cluster.kubectl("exec", "talker", "-n", ns, "--", "sh", "-c", "echo late > /proc/1/fd/1")
        assert follow.stdout.readline() == "late\n"
    finally:
        follow.kill()
    failing = cluster.kubectl(
        "exec", "talker", "-n", ns, "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert failing.returncode == 3
    assert failing.stdout == "out\n" and "err" in failing.stderr
    piped = subprocess.run(
        [*cluster.kubectl_argv(), "exec", "-i", "talker", "-n", ns, "--", "wc", "-c"],
        input="twelve bytes",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert piped.stdout.strip() == "12"
    k8s_config.load_kube_config(config_file=str(cluster.kubeconfig))
    api = k8s.CoreV1Api()
    session = stream(
        api.connect_get_namespaced_pod_exec,
        "talker",
        ns,
        command=["sh", "-c", "echo from python; exit 5"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    session.run_forever(timeout=30)
    assert session.read_stdout() == "from python\n"
    assert session.returncode == 5


def test_deleting_a_namespace_removes_its_containers(cluster: Cluster):
    name = unique("gone")
    cluster.kubectl("create", "namespace", name)
    quick = json.dumps({"spec": {"terminationGracePeriodSeconds": 2}})
    cluster.kubectl(
        "run", "p", "-n", name, "--image=busybox", f"--overrides={quick}", "--", "sleep", "3600"
    )
    cluster.wait_for(lambda: running(cluster.get_json("pod", "p", "-n", name)), 60, what="Running")
    pod = cluster.get_json("pod", "p", "-n", name)
    node = pod["spec"]["nodeName"]
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("//")[1]
    started = time.monotonic()
    cluster.kubectl("delete", "namespace", name, "--timeout=90s", timeout=100)
    assert time.monotonic() - started < 10
    # The pod object goes once its containers have stopped; the kubelet removes them next.
    cluster.wait_for(
        lambda: (
            container_id not in node_exec(node, "ctr", "-n", "k8s.io", "containers", "ls", "-q")
        ),
        timeout=10,
        what="the container removed from containerd",
    )


def test_a_kubelet_restart_adopts_running_containers(cluster: Cluster, ns: str):
    cluster.kubectl("run", "steady", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    cluster.wait_for(
        lambda: running(cluster.get_json("pod", "steady", "-n", ns)), 60, what="Running"
    )
    before = cluster.get_json("pod", "steady", "-n", ns)
    node = before["spec"]["nodeName"]
    node_exec(node, "pkill", "-f", "node_image.kubelet")
    node_exec(node, "pkill", "-x", "containerd")
    time.sleep(3)  # the supervisor brings both back
    try:
        cluster.wait_for(lambda: cluster.node_ready()[node] == "True", 30, what="node Ready")
    except AssertionError as e:
        logs = node_exec(node, "sh", "-c", "tail -n 30 /var/log/ku7s/*.log")
        raise AssertionError(f"{e}\n{logs}") from None
    cluster.kubectl(
        "run",
        "after",
        "-n",
        ns,
        "--image=busybox",
        f"--overrides={json.dumps({'spec': {'nodeName': node}})}",
        "--",
        "sleep",
        "3600",
    )
    cluster.wait_for(
        lambda: running(cluster.get_json("pod", "after", "-n", ns)), 60, what="new pod"
    )
    after = cluster.get_json("pod", "steady", "-n", ns)
    status = after["status"]["containerStatuses"][0]
    assert status["restartCount"] == 0
    assert status["containerID"] == before["status"]["containerStatuses"][0]["containerID"]
    uid = before["metadata"]["uid"]
    of_pod = node_exec(
        node,
        "ctr",
        "-n",
        "k8s.io",
        "containers",
        "ls",
        "-q",
        f'labels."io.kubernetes.pod.uid"=={uid}',
    )
    assert len(of_pod.split()) == 2, of_pod  # the sandbox and the one container: no duplicate


def test_logs_of_the_previous_container_and_copying_files(cluster: Cluster, ns: str, tmp_path):
    cluster.kubectl(
        "run",
        "twice",
        "-n",
        ns,
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo run $(date +%N); sleep 1; exit 1",
    )

    def restarted() -> bool:
        statuses = cluster.get_json("pod", "twice", "-n", ns)["status"].get("containerStatuses")
        return bool(statuses) and statuses[0]["restartCount"] >= 1

    cluster.wait_for(restarted, timeout=60, what="a restart")
    previous = cluster.kubectl("logs", "twice", "-n", ns, "--previous").stdout
    assert previous.startswith("run ")
    cluster.kubectl("run", "files", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    cluster.wait_for(
        lambda: running(cluster.get_json("pod", "files", "-n", ns)), 60, what="Running"
    )
    source = tmp_path / "hello.txt"
    source.write_text("copied in\n")
    cluster.kubectl("cp", str(source), f"{ns}/files:/tmp/hello.txt")
    assert (
        cluster.kubectl("exec", "files", "-n", ns, "--", "cat", "/tmp/hello.txt").stdout
        == "copied in\n"
    )
    back = tmp_path / "back.txt"
    cluster.kubectl("cp", f"{ns}/files:/tmp/hello.txt", str(back))
    assert back.read_text() == "copied in\n"


def test_orphan_and_foreground_deletion(cluster: Cluster, ns: str, tmp_path: Path):
    apply(cluster, ns, DEPLOYMENT.replace("replicas: 3", "replicas: 1"), tmp_path)
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s", timeout=70)
    [rs] = cluster.get_json("rs", "-n", ns)["items"]
    cluster.kubectl("delete", "deploy/web", "-n", ns, "--cascade=orphan")
    cluster.wait_for(
        lambda: (
            not cluster.get_json("rs", rs["metadata"]["name"], "-n", ns)["metadata"].get(
                "ownerReferences"
            )
        ),
        timeout=30,
        what="the ReplicaSet orphaned",
    )
    assert [p for p in pods(cluster, ns, "app=web") if running(p)]
    cluster.kubectl(
        "delete",
        "rs",
        rs["metadata"]["name"],
        "-n",
        ns,
        "--cascade=foreground",
        "--timeout=60s",
        timeout=70,
    )
    assert not cluster.get_json("rs", "-n", ns)["items"]
    assert not [
        p for p in pods(cluster, ns, "app=web") if not p["metadata"].get("deletionTimestamp")
    ]


def test_pods_for_another_scheduler_are_left_alone(cluster: Cluster, ns: str):
    overrides = json.dumps({"spec": {"schedulerName": "someone-else"}})
    cluster.kubectl("run", "elsewhere", "-n", ns, "--image=busybox", f"--overrides={overrides}")
    cluster.kubectl("run", "here", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    cluster.wait_for(lambda: running(cluster.get_json("pod", "here", "-n", ns)), 60, what="Running")
    pod = cluster.get_json("pod", "elsewhere", "-n", ns)
    assert not pod["spec"].get("nodeName") and not pod["status"].get("conditions")


def test_a_loaded_image_runs(cluster: Cluster, ns: str, tmp_path: Path):
    tag = f"ku7s-e2e/own:{unique('v')}"
    (tmp_path / "Dockerfile").write_text(
        "FROM docker.io/library/busybox:latest\n"
        'RUN echo "made here" > /made\n'
        'CMD ["cat", "/made"]\n'
    )
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(tmp_path)], check=True, capture_output=True
    )
    try:
        cluster.kubectl("run", "own", "-n", ns, f"--image={tag}", "--restart=Never")

        def waiting() -> dict:
            statuses = cluster.get_json("pod", "own", "-n", ns)["status"].get("containerStatuses")
            return (statuses or [{}])[0].get("state", {}).get("waiting") or {}

        cluster.wait_for(
            lambda: waiting().get("reason") == "ImagePullBackOff",
            timeout=60,
            what="ImagePullBackOff before the image is loaded",
        )
        assert f"ku7s load image {tag}" in waiting()["message"]
        loaded = run_ku7s("load", "image", tag, "--name", cluster.name, env=cluster.env)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.count(" loaded on ") == len(cluster.workers)
        again = run_ku7s("load", "image", tag, "--name", cluster.name, env=cluster.env)
        assert again.stdout.count(" already present on ") == len(cluster.workers)
        cluster.wait_for(
            lambda: cluster.get_json("pod", "own", "-n", ns)["status"].get("phase") == "Succeeded",
            timeout=60,
            what="the pod of the loaded image to finish",
        )
        assert cluster.kubectl("logs", "own", "-n", ns).stdout == "made here\n"
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    missing = run_ku7s("load", "image", "nowhere/none:1", "--name", cluster.name, env=cluster.env)
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("is not in the host's Docker: build or pull it first")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_port_forward_and_exec_with_each_kubectl(cluster: Cluster, ns: str, version: str):
    """kubectl 1.33 tunnels port-forward's SPDY in a WebSocket and execs over WebSocket;
    1.27 speaks SPDY for both."""
    cluster.kubectl("run", "web", "-n", ns, "--image=nginx")
    cluster.wait_for(lambda: running(cluster.get_json("pod", "web", "-n", ns)), 60, what="Running")
    port = free_port()
    forward = subprocess.Popen(
        [*cluster.kubectl_argv(version), "port-forward", "-n", ns, "pod/web", f"{port}:80"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "Forwarding from" in forward.stdout.readline()
        for _ in range(2):  # two connections over one session
            assert "Welcome to nginx!" in _get(f"http://127.0.0.1:{port}/")
    finally:
        forward.kill()
    failing = cluster.kubectl(
        "exec", "web", "-n", ns, "--", "sh", "-c", "echo out; exit 4", version=version, check=False
    )
    assert (failing.returncode, failing.stdout) == (4, "out\n")
    piped = subprocess.run(
        [*cluster.kubectl_argv(version), "exec", "-i", "web", "-n", ns, "--", "wc", "-c"],
        input="seven b",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert piped.stdout.strip() == "7"
    terminal = subprocess.run(
        [
            "script",
            "-qec",
            " ".join(
                [
                    *cluster.kubectl_argv(version),
                    "exec",
                    "-it",
                    "web",
                    "-n",
                    ns,
                    "--",
                    "sh",
                    "-c",
                    "'sleep 0.5; tty'",
                ]
            ),
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "/dev/pts/" in terminal.stdout
    # kubectl run -it attaches to the new pod's terminal; what is typed reaches its shell.
    typed = "sleep 3; echo 'echo typed-$((6*7))'; sleep 1; echo 'exit 4'; sleep 2"
    attached = subprocess.run(
        [
            "sh",
            "-c",
            f"({typed}) | script -qec '{' '.join(cluster.kubectl_argv(version))} run shell "
            f"-n {ns} --image=busybox -it --rm --restart=Never -- sh' /dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "typed-42" in attached.stdout, attached.stdout + attached.stderr
    assert "terminated (Error)" in attached.stdout


def test_port_forward_with_the_python_client(cluster: Cluster, ns: str):
    cluster.kubectl("run", "web", "-n", ns, "--image=nginx")
    cluster.wait_for(lambda: running(cluster.get_json("pod", "web", "-n", ns)), 60, what="Running")
    k8s_config.load_kube_config(config_file=str(cluster.kubeconfig))
    forward = portforward(
        k8s.CoreV1Api().connect_get_namespaced_pod_portforward, "web", ns, ports="80"
    )
    try:
        sock = forward.socket(80)
        sock.setblocking(True)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b"Welcome to nginx!" in answer
        sock.close()
    finally:
        forward.close()
