"""Benchmark: fault injection on a fresh cluster of 3 workers.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_chaos.py

1. Node failure to its pods Running elsewhere: a Deployment of 6 pods spread over the
   workers; `ku7s chaos stop` on the worker with the most of them; from the injection until
   6 pods run on the other workers (goal <= 15 s with the default test-tuned timings;
   upstream's defaults take about 6 minutes). Three rounds.
2. Time to revert a scenario: 6 faults in force at once (two node pauses, a partition, a
   30% loss, a frozen kube-scheduler, a CPU burn), then Ctrl-C; from the signal until the
   run has reverted all of them and exited.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pods import ku7s, percentile

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 6
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
"""


def kubectl(kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def placement(kubeconfig: Path) -> list[str]:
    pods = json.loads(kubectl(kubeconfig, "get", "pods", "-l", "app=app", "-o", "json"))["items"]
    return [
        p["spec"].get("nodeName", "")
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def chaos(env: dict[str, str], cluster: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", *args, "--name", cluster],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def node_failure(cluster: str, kubeconfig: Path, env: dict[str, str]) -> dict[str, object]:
    manifest = kubeconfig.parent / "app.yaml"
    manifest.write_text(APP)
    kubectl(kubeconfig, "apply", "-f", str(manifest))
    kubectl(kubeconfig, "rollout", "status", "deploy/app", "--timeout=120s")
    seconds: list[float] = []
    for _ in range(3):
        nodes = placement(kubeconfig)
        victim = max(set(nodes), key=nodes.count)
        run = chaos(env, cluster, "stop", victim, "--duration", "2m")
        assert run.stdout is not None
        for line in run.stdout:
            if "injected" in line:
                break
        started = time.monotonic()
        while True:
            now = placement(kubeconfig)
            if len(now) == 6 and victim not in now:
                break
            time.sleep(0.2)
        seconds.append(time.monotonic() - started)
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=60)
        while len(json.loads(kubectl(kubeconfig, "get", "nodes", "-o", "json"))["items"]) < 3:
            time.sleep(0.5)
        kubectl(kubeconfig, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=60s")
    return {
        "rounds": [round(s, 1) for s in seconds],
        "median_s": round(percentile(seconds, 0.5), 1),
    }


def scenario_revert(cluster: str, env: dict[str, str], workers: list[str]) -> dict[str, object]:
    scenario = Path(tempfile.mkdtemp()) / "all.yaml"
    scenario.write_text(
        f"""\
faults:
- {{fault: pause, targets: [{workers[0]}], duration: 5m}}
- {{fault: pause, targets: [{workers[1]}], duration: 5m}}
- {{fault: partition, targets: [{workers[2]}], target: control-plane, duration: 5m}}
- {{fault: loss, targets: [{workers[2]}], target: host, percent: 30, duration: 5m}}
- {{fault: stop-component, component: kube-scheduler, duration: 5m}}
- {{fault: cpu-burn, targets: [{workers[2]}], duration: 5m}}
"""
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", "run", str(scenario), "--name", cluster],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert run.stdout is not None
    injected = 0
    for line in run.stdout:
        injected += "injected" in line
        if injected == 6:
            break
    started = time.monotonic()
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=120)
    return {"faults": 6, "revert_all_s": round(time.monotonic() - started, 2)}


def main() -> None:
    name = f"chaosbench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "3", env=env)
    try:
        workers = [f"{name}-worker", f"{name}-worker2", f"{name}-worker3"]
        figures = {
            "node_failure_to_pods_elsewhere": node_failure(name, kubeconfig, env),
            "scenario_revert": scenario_revert(name, env, workers),
        }
        print(json.dumps(figures, indent=2))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
