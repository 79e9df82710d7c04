"""Benchmark: what extending the API costs, in one run on a fresh cluster.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_custom_resources.py

1. Creates at 20 clients at the control plane's own address: ConfigMaps, then custom
   resources whose schema has 20 fields and 2 CEL rules, taking turns over three rounds.
   Goal: custom resources at least 70 % of the ConfigMaps' rate.
2. Discovery: from a new definition's create to its group-version answering in discovery.
   Goal: at most 1 s.
3. /openapi/v3 for a group: the first answer after a change, and the cached ones.
   Goal: at most 50 ms.
4. A validating webhook on the host (its own answer time measured by itself): one client's
   ConfigMap creates with and without it. Goal: the webhook adds at most 5 ms to the median
   beyond its own answer time.
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
import urllib.request
from pathlib import Path

import yaml

# Run as a script, this directory is on the path.
from bench_apiserver import ku7s
from bench_authorization import kubectl, ssl_context
from load_client import LoadClient

from ku7s.pki import CertificateAuthority

ROUNDS = 3
GROUP = "bench.example.com"
#: A webhook server that records how long it takes to answer, and allows everything.
WEBHOOK = """
import http.server, json, ssl, sys, time
took = []
class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as webhooks written in Go are
    disable_nagle_algorithm = True  # headers and body go as written, as Go's server sends
    def log_message(self, *args):
        pass
    def do_GET(self):
        body = json.dumps(sorted(took)[len(took) // 2] if took else 0).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        started = time.perf_counter()
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
        took.append(time.perf_counter() - started)
server = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Hook)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def definition(plural: str = "gadgets", kind: str = "Gadget") -> dict:
    fields = {f"field{i:02d}": {"type": "string" if i % 2 else "integer"} for i in range(18)}
    fields["replicas"] = {"type": "integer", "minimum": 0}
    fields["maxReplicas"] = {"type": "integer", "minimum": 0}
    spec = {
        "type": "object",
        "properties": fields,
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.maxReplicas", "message": "too many"},
            {"rule": "self.field01.size() < 64", "message": "too long"},
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": plural, "kind": kind},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}}}]},
    }  # fmt: skip


def gadget(name: str) -> bytes:
    spec = {f"field{i:02d}": (f"value {i}" if i % 2 else i) for i in range(18)}
    spec.update(replicas=1, maxReplicas=3)
    return json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "Gadget",
                       "metadata": {"name": name}, "spec": spec}).encode()  # fmt: skip


def config_map(name: str) -> bytes:
    data = {f"key{i:02d}": f"value {i}" for i in range(20)}
    return json.dumps({"metadata": {"name": name}, "data": data}).encode()


async def creates(load: LoadClient, path: str, bodies: list[bytes], clients: int) -> float:
    result = await load.run([load.request("POST", path, b) for b in bodies], clients)
    if set(result.statuses) != {201}:
        raise SystemExit(f"creates at {path} answered {result.statuses}")
    return result.per_second


async def median_create_ms(load: LoadClient, path: str, prefix: str, n: int) -> float:
    result = await load.run([load.request("POST", path, config_map(f"{prefix}{i}"))
                             for i in range(n)], 1)  # fmt: skip
    if set(result.statuses) != {201}:
        raise SystemExit(f"creates answered {result.statuses}")
    return result.percentile_ms(0.5)


def get_ms(load: LoadClient, path: str) -> float:
    async def once() -> float:
        result = await load.run([load.request("GET", path)], 1)
        if set(result.statuses) != {200}:
            raise SystemExit(f"GET {path} answered {result.statuses}")
        return result.latencies[0] * 1000

    return asyncio.run(once())


def main() -> None:
    n = int(os.environ.get("BENCH_N", "600"))
    name = f"crdbench-{secrets.token_hex(3)}"
    workdir = Path(tempfile.mkdtemp())
    kubeconfig = workdir / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "0", env=env)
    hook: subprocess.Popen[bytes] | None = None
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        control_plane = f"{name}-control-plane"
        inspect = json.loads(subprocess.run(["docker", "inspect", control_plane],
                                            capture_output=True, check=True).stdout)[0]  # fmt: skip
        network = next(iter(inspect["NetworkSettings"]["Networks"].values()))
        address, gateway = network["IPAddress"], network["Gateway"]
        load = LoadClient(address, 6443, ssl_context(config, f"ku7s-{name}"), control_plane)

        # 2. discovery of a new definition
        crd_path = workdir / "crd.json"
        crd_path.write_text(json.dumps(definition()))
        started = time.perf_counter()
        kubectl(kubeconfig, "create", "-f", str(crd_path))
        while True:
            try:
                get_ms(load, f"/apis/{GROUP}/v1")
                break
            except SystemExit:
                time.sleep(0.01)
        discovery_s = time.perf_counter() - started

        # 3. OpenAPI
        first = get_ms(load, f"/openapi/v3/apis/{GROUP}/v1")
        cached = statistics.median(get_ms(load, "/openapi/v3/apis/apps/v1") for _ in range(20))

        # 1. creates
        kubectl(kubeconfig, "create", "namespace", "bench")
        rates: dict[str, list[float]] = {"configmaps": [], "gadgets": []}
        for round_ in range(ROUNDS):
            rates["configmaps"].append(asyncio.run(creates(
                load, "/api/v1/namespaces/bench/configmaps",
                [config_map(f"c{round_}-{i}") for i in range(n)], 20)))  # fmt: skip
            rates["gadgets"].append(asyncio.run(creates(
                load, f"/apis/{GROUP}/v1/namespaces/bench/gadgets",
                [gadget(f"g{round_}-{i}") for i in range(n)], 20)))  # fmt: skip
        cm, cr = statistics.median(rates["configmaps"]), statistics.median(rates["gadgets"])

        # 4. a webhook on the host
        ca = CertificateAuthority.create("bench-webhook")
        pair = ca.issue_server("hook", [], [gateway])
        (workdir / "tls.crt").write_bytes(pair.cert_pem)
        (workdir / "tls.key").write_bytes(pair.key_pem)
        port = 20000 + secrets.randbelow(20000)
        hook = subprocess.Popen([sys.executable, "-c", WEBHOOK, str(port),
                                 str(workdir / "tls.crt"), str(workdir / "tls.key")])  # fmt: skip
        kubectl(kubeconfig, "create", "namespace", "hooked")
        without = asyncio.run(median_create_ms(load, "/api/v1/namespaces/hooked/configmaps",
                                               "plain", 300))  # fmt: skip
        webhook = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "bench"},
            "webhooks": [{
                "name": "bench.example.com", "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": f"https://{gateway}:{port}/validate",
                                 "caBundle": base64.b64encode(ca.cert_pem).decode()},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hooked"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["configmaps"]}]}],
        }  # fmt: skip
        (workdir / "hook.json").write_text(json.dumps(webhook))
        kubectl(kubeconfig, "create", "-f", str(workdir / "hook.json"))
        time.sleep(1)
        with_hook = asyncio.run(median_create_ms(load, "/api/v1/namespaces/hooked/configmaps",
                                                 "hooked", 300))  # fmt: skip
        context = ssl.create_default_context(cadata=ca.cert_pem.decode())
        with urllib.request.urlopen(f"https://{gateway}:{port}/took", context=context) as r:
            answer_ms = 1000 * float(json.loads(r.read()))

        print(f"creates/s at 20 clients: configmaps {cm:.0f}, custom resources (20 fields, "
              f"2 CEL rules) {cr:.0f} = {cr / cm:.0%} (goal >= 70 %)")  # fmt: skip
        print(f"discovery of a new definition: {discovery_s:.2f} s (goal <= 1 s)")
        print(f"/openapi/v3 of a group: {first:.1f} ms after a change, {cached:.1f} ms cached "
              "(goal <= 50 ms)")  # fmt: skip
        print(f"create p50, 1 client: {without:.1f} ms without a webhook, {with_hook:.1f} ms "
              f"with one answering in {answer_ms:.1f} ms: adds "
              f"{with_hook - without - answer_ms:.1f} ms (goal <= 5 ms)")  # fmt: skip
    finally:
        if hook is not None:
            hook.terminate()
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    sys.exit(main())
