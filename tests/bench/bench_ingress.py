"""Benchmark: HTTP through the built-in ingress controller against the same Service's
ClusterIP, from a pod, on a fresh cluster of 2 workers.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_ingress.py

nginx (2 replicas) behind a Service, and an Ingress for it. From a client pod's network
namespace, 16 connections at a time, on kept-alive connections and on new ones: once to
the Service's ClusterIP, once to the ingress controller's (Host header of the Ingress);
three alternating rounds, medians. Goal: through the ingress >= 0.8 x the ClusterIP rate.

The floor, in the same run: the same load on plain Docker containers (no cluster), once to
an nginx serving the page and once through an nginx proxying to it as the ingress does
(kept-alive upstream connections, one worker): what one proxy hop costs on this machine.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from bench_network import LOAD, docker_exec
from bench_pods import ku7s

from ku7s.api.ingresses import NAME, NAMESPACE

NEW_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "2000"))
KEPT_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20000"))
HOST = "bench.example"


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        input=stdin, check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip


def main() -> None:
    name = f"ingbench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "2", env=env)
    try:
        figures = measure(kubeconfig, [f"{name}-worker", f"{name}-worker2"])
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)
    floor = proxy_floor(name)
    print(json.dumps({**figures, "floor": floor}, indent=2))
    for mode in ("keepalive", "new"):
        print(
            f"{mode}: ingress {figures[f'{mode}_ingress']['requests_per_s']}/s, ClusterIP "
            f"{figures[f'{mode}_cluster_ip']['requests_per_s']}/s, ratio "
            f"{figures[f'{mode}_ratio']} (goal >= 0.8; one nginx proxy hop in plain Docker: "
            f"{floor[f'{mode}_ratio']})"
        )


PROXY_CONF = """
worker_processes 1;
pid /tmp/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  upstream web { server WEB:80; keepalive 32; }
  server { listen 80; location / { proxy_pass http://web; } }
}
"""


def proxy_floor(prefix: str) -> dict[str, float]:
    """Ratios of the load through an nginx proxy to the load straight to nginx, on plain
    Docker containers of a network of their own."""
    parts = ("net", "web", "proxy", "client")
    network, web, proxy, client = (f"{prefix}-floor-{part}" for part in parts)

    def run(*argv: str) -> str:
        return subprocess.run(["docker", *argv], check=True, capture_output=True, text=True).stdout

    run("network", "create", network)
    try:
        run("run", "-d", "--name", web, "--network", network, "nginx")
        run("run", "-d", "--name", proxy, "--network", network, "--entrypoint", "sh", "nginx",
            "-c", f"echo '{PROXY_CONF.replace('WEB', web)}' > /tmp/p.conf && "
            "exec nginx -c /tmp/p.conf -g 'daemon off;'")  # fmt: skip
        run("run", "-d", "--name", client, "--network", network, "--entrypoint", "sleep",
            "ku7s/node:latest", "3600")  # fmt: skip
        time.sleep(1)
        rates: dict[str, list[float]] = {}
        port = 20000
        for _ in range(3):
            for mode, count in (("keepalive", KEPT_REQUESTS), ("new", NEW_CONNECTIONS)):
                for target in (web, proxy):
                    out = run("exec", client, "python3", "-c", LOAD, target, mode, str(count),
                              str(port))  # fmt: skip
                    rates.setdefault(f"{mode}_{target}", []).append(
                        json.loads(out)["requests_per_s"]
                    )
                    port += count if mode == "new" else 0
        return {
            f"{mode}_ratio": round(
                sorted(rates[f"{mode}_{proxy}"])[1] / sorted(rates[f"{mode}_{web}"])[1], 2
            )
            for mode in ("keepalive", "new")
        }
    finally:
        run("rm", "-f", web, proxy, client)
        run("network", "rm", network)


def measure(kubeconfig: Path, workers: list[str]) -> dict[str, object]:
    kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    kubectl(kubeconfig, "expose", "deployment", "web", "--port=80")
    kubectl(kubeconfig, "create", "ingress", "web", f"--rule={HOST}/*=web:80")
    overrides = json.dumps({"spec": {"nodeName": workers[0]}})
    kubectl(kubeconfig, "run", "client", "--image=busybox", f"--overrides={overrides}",
            "--", "sleep", "3600")  # fmt: skip
    kubectl(kubeconfig, "rollout", "status", "deployment/web", "--timeout=120s")
    kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
    deadline = time.monotonic() + 120
    while not kubectl(kubeconfig, "get", "ingress", "web",
                      "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"):  # fmt: skip
        if time.monotonic() > deadline:
            raise SystemExit("the ingress got no address")
        time.sleep(0.5)
    kubectl(kubeconfig, "rollout", "status", f"daemonset/{NAME}", "-n", NAMESPACE,
            "--timeout=120s")  # fmt: skip
    targets = {
        "cluster_ip": (kubectl(kubeconfig, "get", "svc", "web",
                               "-o", "jsonpath={.spec.clusterIP}"), "x"),
        "ingress": (kubectl(kubeconfig, "get", "svc", NAME, "-n", NAMESPACE,
                            "-o", "jsonpath={.spec.clusterIP}"), HOST),
    }  # fmt: skip
    pid = docker_exec(workers[0], "sh", "-c", "pgrep -f 'sleep 3600' | head -1").strip()
    # Warm up: the ingress answers the Ingress's host (the config may still be on its way).
    deadline = time.monotonic() + 60
    while True:
        probe = LOAD.replace("Host: x", f"Host: {HOST}")
        try:
            docker_exec(workers[0], "nsenter", "-n", "-t", pid, "python3", "-c", probe,
                        targets["ingress"][0], "keepalive", "160", "0")  # fmt: skip
            break
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    rounds: dict[str, list[dict]] = {}
    port = 20000
    for _ in range(3):
        for mode, count in (("keepalive", KEPT_REQUESTS), ("new", NEW_CONNECTIONS)):
            for label, (address, host) in targets.items():
                script = LOAD.replace("Host: x", f"Host: {host}")
                out = docker_exec(workers[0], "nsenter", "-n", "-t", pid, "python3", "-c",
                                  script, address, mode, str(count), str(port))  # fmt: skip
                rounds.setdefault(f"{mode}_{label}", []).append(json.loads(out))
                port += count if mode == "new" else 0
    figures: dict[str, object] = {
        k: sorted(v, key=lambda f: f["requests_per_s"])[1] for k, v in rounds.items()
    }
    for mode in ("keepalive", "new"):
        ingress = figures[f"{mode}_ingress"]["requests_per_s"]  # type: ignore[index]
        direct = figures[f"{mode}_cluster_ip"]["requests_per_s"]  # type: ignore[index]
        figures[f"{mode}_ratio"] = round(ingress / direct, 2)
    return figures


if __name__ == "__main__":
    main()
