"""Benchmark: the API server against the etcd floor, on a fresh cluster.

Prints figures; asserts nothing. Run from the repository root with the venv active:

    python tests/bench/bench_apiserver.py

1. The floor: raw etcd puts/s and gets/s through aetcd, run inside the control-plane
   container against its own etcd, with 1 and 20 concurrent callers; and, for reference,
   create-if-absent transactions (a Txn comparing the key's create revision), which is
   what every create costs etcd, in Kubernetes as here.
2. The API server over HTTPS from the host, once at the control-plane container's own
   address and once through the published port (Docker's userland proxy): creates/s and
   gets/s of pods with 1 and 20 concurrent clients, each with p50 and p99 latency, sent by
   a lean load generator (load_client.py) so that the client's CPU stays off the server's
   two cores; and a list of 1,000 pods.
3. Watch fan-out: 50 watchers on the pods of one namespace; how long after a create's
   answer each watcher has the event (p50 and p99).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

# Run as a script, this directory is on the path.
from load_client import LoadClient, LoadResult

from ku7s.client.rest import APIClient

ETCD_FLOOR = r"""
import asyncio, json, sys, time
import aetcd
from aetcd import rpc

async def main(n, concurrency):
    client = aetcd.Client(host="127.0.0.1", port=2379)
    await client.connect()
    value = b"x" * 1300  # about the size of the benchmark's pods as stored
    result = {}
    for name, op in (("puts", "put"), ("gets", "get"), ("txns", "txn")):
        queue = list(range(n))
        latencies = []
        async def worker():
            while queue:
                i = queue.pop()
                key = b"/bench/%d" % i
                started = time.perf_counter()
                if op == "put":
                    await client.kvstub.Put(rpc.PutRequest(key=key, value=value))
                elif op == "txn":
                    key = b"/bench/txn/%d" % i
                    absent = rpc.Compare(
                        key=key, result=rpc.Compare.CompareResult.EQUAL,
                        target=rpc.Compare.CompareTarget.CREATE, create_revision=0)
                    put = rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value))
                    await client.kvstub.Txn(rpc.TxnRequest(compare=[absent], success=[put]))
                else:
                    await client.kvstub.Range(rpc.RangeRequest(key=key))
                latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result[name] = n / (time.perf_counter() - started)
        latencies.sort()
        result[name + "_p99_ms"] = latencies[int(0.99 * len(latencies))] * 1000
    await client.delete_prefix(b"/bench/")
    print(json.dumps(result))

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""

POD = {
    "metadata": {"labels": {"bench": "yes"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "command": ["sleep", "3600"],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }
        ]
    },
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ku7s(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ku7s", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)


def etcd_floor(control_plane: str, n: int, concurrency: int) -> dict[str, float]:
    result = subprocess.run(
        ["docker", "exec", control_plane, "python3", "-c", ETCD_FLOOR, str(n), str(concurrency)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def latency_ms(result: LoadResult) -> list[float]:
    return [round(result.percentile_ms(0.5), 1), round(result.percentile_ms(0.99), 1)]


async def api_figures(
    api_client: APIClient, load: LoadClient, n: int, tag: str
) -> dict[str, object]:
    figures: dict[str, object] = {}
    async with api_client as api:
        for concurrency in (1, 20):
            namespace = f"bench{concurrency}{tag}"
            await api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
            base = f"/api/v1/namespaces/{namespace}/pods"
            creates = [load.request("POST", base, pod_body(f"p{i}")) for i in range(n)]
            result = await load.run(creates, concurrency)
            if result.statuses != {201: n}:
                raise SystemExit(f"creates answered {result.statuses}")
            figures[f"creates_per_s_c{concurrency}"] = round(result.per_second)
            figures[f"create_ms_p50_p99_c{concurrency}"] = latency_ms(result)
            result = await load.run(
                [load.request("GET", f"{base}/p{i}") for i in range(n)], concurrency
            )
            if result.statuses != {200: n}:
                raise SystemExit(f"gets answered {result.statuses}")
            figures[f"gets_per_s_c{concurrency}"] = round(result.per_second)
            figures[f"get_ms_p50_p99_c{concurrency}"] = latency_ms(result)
        listing = []
        for _ in range(5):
            started = time.perf_counter()
            listed = await api.get(f"/api/v1/namespaces/bench20{tag}/pods")
            listing.append(time.perf_counter() - started)
        figures["list_pods"] = len(listed["items"])
        figures["list_ms_median"] = round(statistics.median(listing) * 1000, 1)
        figures.update(await watch_fanout(api, tag))
    return figures


def pod_body(name: str) -> bytes:
    return json.dumps({**POD, "metadata": {**POD["metadata"], "name": name}}).encode()


async def watch_fanout(api: APIClient, tag: str, watchers: int = 50, events: int = 100) -> dict:
    await api.create("/api/v1/namespaces", {"metadata": {"name": f"fanout{tag}"}})
    base = f"/api/v1/namespaces/fanout{tag}/configmaps"
    start = (await api.get(base))["metadata"]["resourceVersion"]
    written: dict[str, float] = {}
    delays: list[float] = []
    ready = asyncio.Event()
    connected = 0

    async def watcher() -> None:
        nonlocal connected
        stream = api.watch(base, {"resourceVersion": start, "timeoutSeconds": "60"})
        connected += 1
        if connected == watchers:
            ready.set()
        count = 0
        async for _, obj in stream:
            name = obj["metadata"]["name"]
            if not name.startswith("c") or not name[1:].isdigit():
                continue  # the namespace's own (kube-root-ca.crt, published meanwhile)
            while name not in written:
                await asyncio.sleep(0)
            delays.append(time.perf_counter() - written[name])
            count += 1
            if count == events:
                return

    tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
    await asyncio.sleep(2)
    for i in range(events):
        sent = time.perf_counter()
        await api.create(base, {"metadata": {"name": f"c{i}"}})
        written[f"c{i}"] = sent
        await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    return {
        "watch_fanout_watchers": watchers,
        "watch_events": events * watchers,
        "watch_delivery_ms_p50_p99": [
            round(percentile(delays, 0.5) * 1000, 1),
            round(percentile(delays, 0.99) * 1000, 1),
        ],
    }


def urlsplit_host_port(server: str) -> tuple[str, int]:
    parts = urlsplit(server)
    return parts.hostname or "127.0.0.1", parts.port or 443


def main() -> None:
    n = int(os.environ.get("BENCH_N", "1000"))
    name = f"apibench-{secrets.token_hex(3)}"
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    env = {"KUBECONFIG": str(kubeconfig)}
    ku7s("create", "cluster", "--name", name, "--workers", "1", env=env)
    try:
        figures: dict[str, object] = {}
        for concurrency in (1, 20):
            floor = etcd_floor(f"{name}-control-plane", n, concurrency)
            figures[f"etcd_puts_per_s_c{concurrency}"] = round(floor["puts"])
            figures[f"etcd_gets_per_s_c{concurrency}"] = round(floor["gets"])
            figures[f"etcd_put_ms_p99_c{concurrency}"] = round(floor["puts_p99_ms"], 1)
            figures[f"etcd_create_txns_per_s_c{concurrency}"] = round(floor["txns"])
        config = yaml.safe_load(kubeconfig.read_text())
        control_plane = f"{name}-control-plane"
        address = subprocess.run(
            [
                "docker",
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                control_plane,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        host, port = urlsplit_host_port(config["clusters"][0]["cluster"]["server"])
        ssl_context = APIClient.from_kubeconfig(config).ssl_context
        # The container's own address (the API server itself), then the published port of
        # users' kubeconfigs, which Docker's userland proxy relays on the host.
        results = {
            "direct": asyncio.run(
                api_figures(
                    APIClient.from_kubeconfig(
                        config,
                        timeout=60,
                        server=f"https://{address}:6443",
                        server_hostname=control_plane,
                    ),
                    LoadClient(address, 6443, ssl_context, control_plane),
                    n,
                    "d",
                )
            ),
            "published_port": asyncio.run(
                api_figures(
                    APIClient.from_kubeconfig(config, timeout=60),
                    LoadClient(host, port, ssl_context, host),
                    n,
                    "p",
                )
            ),
        }
        for figures_of in results.values():
            for c in (1, 20):
                creates = figures_of[f"creates_per_s_c{c}"]
                figures_of[f"creates_vs_etcd_puts_c{c}"] = round(
                    creates / figures[f"etcd_puts_per_s_c{c}"], 2
                )
                figures_of[f"creates_vs_etcd_create_txns_c{c}"] = round(
                    creates / figures[f"etcd_create_txns_per_s_c{c}"], 2
                )
        print(json.dumps({"etcd": figures, **results}, indent=2))
    finally:
        ku7s("delete", "cluster", "--name", name, env=env)


if __name__ == "__main__":
    main()
