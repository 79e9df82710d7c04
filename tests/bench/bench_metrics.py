"""Benchmark: metrics on a fresh cluster of 2 workers running 100 pods.

Prints figures; asserts nothing. Run from the repository root with the venv active (and
Debian's prometheus installed, as `scripts/setup --for-tests` does):

    python tests/bench/bench_metrics.py

1. Per scrape target of `ku7s export prometheus-config` (and the API server's /metrics):
   the median time of 5 scrapes from the host and the number of series it answers.
2. The API server's request latency, 2,000 pod GETs over 20 connections, p50 / p99 and
   requests/s: with no one scraping, then while a real Prometheus scrapes every target of
   the cluster every 5 s (its own configuration).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import ssl
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

# Run as a script, this directory is on the path.
from bench_apiserver import ku7s, latency_ms, urlsplit_host_port
from load_client import LoadClient

from ku7s.client.rest import APIClient

PODS = 100
DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: many, namespace: default}}
spec:
  replicas: {PODS}
  selector: {{matchLabels: {{app: many}}}}
  template:
    metadata: {{labels: {{app: many}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{{name: c, image: busybox, command: [sleep, "3600"]}}]
"""


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def wait_running(kubeconfig: Path, count: int, timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pods = json.loads(kubectl(kubeconfig, "get", "pods", "-o", "json"))["items"]
        if sum(p["status"].get("phase") == "Running" for p in pods) >= count:
            return time.monotonic() - started
        time.sleep(1)
    raise SystemExit(f"{count} pods were not Running after {timeout}s")


def scrape(url: str, context: ssl.SSLContext | None) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        text = response.read().decode()
    seconds = time.perf_counter() - started
    return seconds, sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def scrape_figures(export: Path, api_server: str, context: ssl.SSLContext) -> dict[str, object]:
    config = yaml.safe_load((export / "prometheus.yml").read_text())
    urls: dict[str, tuple[str, ssl.SSLContext | None]] = {
        "kube-apiserver": (f"https://{api_server}/metrics", context)
    }
    for job in config["scrape_configs"][1:]:
        groups = json.loads(Path(job["file_sd_configs"][0]["files"][0]).read_text())
        for group in groups:
            node = group["labels"]["node"]
            address = group["targets"][0]
            urls[f"{job['job_name']} ({node})"] = (
                f"http://{address}{job['metrics_path']}",
                None,
            )
    figures: dict[str, object] = {}
    for name, (url, tls) in urls.items():
        runs = [scrape(url, tls) for _ in range(5)]
        figures[name] = {
            "scrape_ms_median": round(statistics.median(r[0] for r in runs) * 1000, 1),
            "series": runs[-1][1],
        }
    return figures


async def request_latency(load: LoadClient, names: list[str]) -> dict[str, object]:
    requests = [
        load.request("GET", f"/api/v1/namespaces/default/pods/{names[i % len(names)]}")
        for i in range(2000)
    ]
    result = await load.run(requests, 20)
    return {"get_ms_p50_p99": latency_ms(result), "gets_per_s": round(result.per_second)}


def main() -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus is not installed; run scripts/setup --for-tests")
    name = f"metricsbench-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp())
    kubeconfig = work / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "2", env=env)
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        kubectl(kubeconfig, "apply", "-f", "-", stdin=DEPLOYMENT)
        running_after = wait_running(kubeconfig, PODS)
        export = work / "prometheus"
        ku7s("export", "prometheus-config", "--name", name, "--dir", str(export), env=env)
        config = yaml.safe_load(kubeconfig.read_text())
        client = APIClient.from_kubeconfig(config)
        host, port = urlsplit_host_port(config["clusters"][0]["cluster"]["server"])
        figures: dict[str, object] = {"pods_running_after_s": round(running_after, 1)}
        figures["targets"] = scrape_figures(export, f"{host}:{port}", client.ssl_context)
        pods = json.loads(kubectl(kubeconfig, "get", "pods", "-o", "json"))["items"]
        names = [p["metadata"]["name"] for p in pods]
        load = LoadClient(host, port, client.ssl_context, host)
        figures["api_without_scraping"] = asyncio.run(request_latency(load, names))
        prometheus = subprocess.Popen(
            [
                binary,
                f"--config.file={export / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                "--web.listen-address=127.0.0.1:0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(12)  # two scrape rounds before measuring
        figures["api_while_prometheus_scrapes_every_5s"] = asyncio.run(request_latency(load, names))
        print(json.dumps(figures, indent=2))
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=10)
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
