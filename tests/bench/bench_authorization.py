"""Benchmark: what authentication and RBAC cost the API server, in one run.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_authorization.py

1. In-process: verifying a service account token (signature and claims) per call, and the
   authenticator's cached path that every later request of the same token takes.
2. On a fresh cluster, 20 clients creating then getting pods at the control plane's own
   address, as three callers taking turns, so the machine's drift hits all of them alike:
   the admin (system:masters: decided before RBAC, which is the figure without RBAC), a
   user whose rights come from a RoleBinding (every request decided by RBAC), and a
   service account presenting a bound token (token checked, then RBAC). Goal: RBAC costs
   at most 10 % of the admin's throughput, and token verification at most 0.2 ms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

# Run as a script, this directory is on the path.
from bench_apiserver import POD, ku7s
from bench_streams import KUBECTL
from load_client import LoadClient

from control_plane.apiserver.authentication.request_authenticator import RequestAuthenticator
from control_plane.service_account_tokens import BoundRef, ServiceAccountTokens
from ku7s import pki

ROUNDS = 3


def pod_body(name: str) -> bytes:
    """A pod no scheduler serves: stored and read, never run."""
    spec = {**POD["spec"], "schedulerName": "bench-nobody"}
    return json.dumps({"metadata": {"name": name}, "spec": spec}).encode()


def token_figures(n: int = 2000) -> dict[str, float]:
    tokens = ServiceAccountTokens(pki.private_key_pem(pki.new_private_key()))
    token, _ = tokens.issue("ns", BoundRef("app", "uid"), [], 3600, pod=BoundRef("p", "pu"))
    started = time.perf_counter()
    for _ in range(n):
        tokens.verify(token)
    verify_ms = (time.perf_counter() - started) / n * 1000

    async def lookup(plural: str, namespace: str, name: str) -> dict:
        return {"metadata": {"uid": {"serviceaccounts": "uid", "pods": "pu"}[plural]}}

    async def cached() -> float:
        authenticator = RequestAuthenticator(tokens, lookup)
        await authenticator.authenticate_token(token)
        started = time.perf_counter()
        for _ in range(n):
            await authenticator.authenticate_token(token)
        return (time.perf_counter() - started) / n * 1000

    return {
        "token_verify_ms": round(verify_ms, 3),
        "token_cached_ms": round(asyncio.run(cached()), 4),
    }


def kubectl(kubeconfig: Path, *args: str, context: str | None = None) -> str:
    argv = [KUBECTL, "--kubeconfig", str(kubeconfig)]
    if context:
        argv += ["--context", context]
    return subprocess.run(
        [*argv, *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def ssl_context(config: dict, user: str | None = None) -> ssl.SSLContext:
    """The CA of the cluster, and the client certificate of `user` if given."""
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    context = ssl.create_default_context(cadata=ca.decode())
    if user is not None:
        entry = next(u["user"] for u in config["users"] if u["name"] == user)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
            cert.write_bytes(base64.b64decode(entry["client-certificate-data"]))
            key.write_bytes(base64.b64decode(entry["client-key-data"]))
            context.load_cert_chain(cert, key)
    return context


async def throughput(load: LoadClient, namespace: str, prefix: str, n: int) -> dict[str, float]:
    base = f"/api/v1/namespaces/{namespace}/pods"
    creates = await load.run(
        [load.request("POST", base, pod_body(f"{prefix}{i}")) for i in range(n)], 20
    )
    if creates.statuses != {201: n}:
        raise SystemExit(f"{prefix}: creates answered {creates.statuses}")
    gets = await load.run([load.request("GET", f"{base}/{prefix}{i}") for i in range(n)], 20)
    if gets.statuses != {200: n}:
        raise SystemExit(f"{prefix}: gets answered {gets.statuses}")
    return {"creates": creates.per_second, "gets": gets.per_second}


def main() -> None:
    n = int(os.environ.get("BENCH_N", "1000"))
    print(json.dumps(token_figures()))
    name = f"authzbench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "1", env=env)
    try:
        ku7s("create", "user", "dev", "--name", name, env=env)
        kubectl(kubeconfig, "create", "namespace", "bench")
        kubectl(kubeconfig, "create", "serviceaccount", "app", "-n", "bench")
        for subject in ("--user=dev", "--serviceaccount=bench:app"):
            binding = subject.split("=")[1].replace(":", "-")
            kubectl(kubeconfig, "create", "rolebinding", binding, "-n", "bench",
                    "--clusterrole=edit", subject)  # fmt: skip
        token = kubectl(kubeconfig, "create", "token", "app", "-n", "bench").strip()
        config = yaml.safe_load(kubeconfig.read_text())
        control_plane = f"{name}-control-plane"
        address = subprocess.run(
            ["docker", "inspect", "-f",
             "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", control_plane],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        callers = {
            "admin (no RBAC)": LoadClient(
                address, 6443, ssl_context(config, f"ku7s-{name}"), control_plane
            ),
            "user via RBAC": LoadClient(
                address, 6443, ssl_context(config, f"ku7s-{name}-dev"), control_plane
            ),
            "token via RBAC": LoadClient(address, 6443, ssl_context(config), control_plane, token),
        }
        figures: dict[str, dict[str, list[float]]] = {
            c: {"creates": [], "gets": []} for c in callers
        }
        for round_ in range(ROUNDS):
            for caller, load in callers.items():
                prefix = f"r{round_}{caller.split()[0]}"
                for what, rate in asyncio.run(throughput(load, "bench", prefix, n)).items():
                    figures[caller][what].append(rate)
        admin = {
            what: statistics.median(rates) for what, rates in figures["admin (no RBAC)"].items()
        }
        for caller, rates in figures.items():
            line = []
            for what in ("creates", "gets"):
                median = statistics.median(rates[what])
                line.append(f"{what}/s {median:.0f} ({median / admin[what] - 1:+.0%} vs admin)")
            print(f"{caller:17s} 20 clients: " + ", ".join(line))
        print("goal: RBAC callers within 10 % of the admin; token verification <= 0.2 ms")
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    sys.exit(main())
