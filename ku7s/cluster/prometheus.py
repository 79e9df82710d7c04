"""``ku7s export prometheus-config``: a directory Prometheus can run from, with a scrape job
for every component of a cluster.

- The API server is scraped as upstream's is, over TLS with the cluster's admin
  credentials (written beside the configuration, readable by its owner only).
- Every other component serves a read-only metrics port on the cluster's Docker network,
  which the host reaches: etcd 2381, kube-scheduler 10259, kube-controller-manager 10257,
  kube-state-metrics 8080, cloud-controller-manager 10258, cluster-dns 9153; on each worker
  the kubelet 10255 (``/metrics``, ``/metrics/resource``, ``/metrics/cadvisor``) and
  kube-proxy 10249.
- Targets live in file service discovery files (``targets/*.json``) that Prometheus re-reads
  by itself. The export's directory is recorded in the cluster (a ConfigMap), and
  ``ku7s create node`` and ``ku7s delete node`` rewrite those files, so a running Prometheus
  follows the nodes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import yaml

from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.access import admin_kubeconfig, save_configmap
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import NotFoundError, UserInputError
from ku7s.metrics.ports import PORTS
from ku7s.names import CONTROL_PLANE, WORKER, network_name

RECORD = "/api/v1/namespaces/kube-system/configmaps/ku7s-prometheus-exports"
SCRAPE_INTERVAL = "5s"
#: job -> (the nodes it runs on, port, metrics path)
JOBS: dict[str, tuple[str, int, str]] = {
    "etcd": (CONTROL_PLANE, PORTS["etcd"], "/metrics"),
    "kube-scheduler": (CONTROL_PLANE, PORTS["kube-scheduler"], "/metrics"),
    "kube-controller-manager": (CONTROL_PLANE, PORTS["kube-controller-manager"], "/metrics"),
    "kube-state-metrics": (CONTROL_PLANE, PORTS["kube-state-metrics"], "/metrics"),
    "cloud-controller-manager": (CONTROL_PLANE, PORTS["cloud-controller-manager"], "/metrics"),
    "cluster-dns": (CONTROL_PLANE, PORTS["cluster-dns"], "/metrics"),
    "kubelet": (WORKER, PORTS["kubelet"], "/metrics"),
    "kubelet-resource": (WORKER, PORTS["kubelet"], "/metrics/resource"),
    "cadvisor": (WORKER, PORTS["kubelet"], "/metrics/cadvisor"),
    "kube-proxy": (WORKER, PORTS["kube-proxy"], "/metrics"),
}


def node_addresses(provider: DockerProvider, cluster: str) -> dict[str, tuple[str, str]]:
    """node name -> (role, address on the cluster's network), for running nodes."""
    network = network_name(cluster)
    found = {}
    for node in provider.list_nodes(cluster):
        address = provider.address_on(node.name, network)
        if address:
            found[node.name] = (node.role, address)
    return found


def file_targets(provider: DockerProvider, cluster: str) -> dict[str, list[dict[str, Any]]]:
    """Each job's file service discovery content: one group per node."""
    nodes = node_addresses(provider, cluster)
    return {
        job: [
            {"targets": [f"{address}:{port}"], "labels": {"node": name, "cluster": cluster}}
            for name, (node_role, address) in sorted(nodes.items())
            if node_role == role
        ]
        for job, (role, port, _) in JOBS.items()
    }


def scrape_config(directory: Path, api_server: str, cluster: str) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "kube-apiserver",
            "scheme": "https",
            "tls_config": {
                "ca_file": str(directory / "ca.crt"),
                "cert_file": str(directory / "client.crt"),
                "key_file": str(directory / "client.key"),
            },
            "static_configs": [{"targets": [api_server], "labels": {"cluster": cluster}}],
        }
    ]
    for job, (_, _, path) in JOBS.items():
        jobs.append(
            {
                "job_name": job,
                "metrics_path": path,
                "file_sd_configs": [
                    {
                        "files": [str(directory / "targets" / f"{job}.json")],
                        "refresh_interval": "5s",
                    }
                ],
            }
        )
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": jobs,
    }


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def write_targets(provider: DockerProvider, cluster: str, directory: Path) -> None:
    targets = directory / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    for job, groups in file_targets(provider, cluster).items():
        # Written aside and renamed: Prometheus never reads a half-written file.
        partial = targets / f".{job}.json.tmp"
        partial.write_text(json.dumps(groups, indent=2) + "\n")
        os.replace(partial, targets / f"{job}.json")


def export_prometheus_config(provider: DockerProvider, cluster: str, directory: Path) -> Path:
    """Write the configuration, credentials and targets; remember the directory in the
    cluster so node changes update it. Returns the configuration file."""
    config = admin_kubeconfig(provider, cluster)
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise UserInputError(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    cluster_entry = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    _write_private(
        directory / "ca.crt", base64.b64decode(cluster_entry["certificate-authority-data"])
    )
    _write_private(directory / "client.crt", base64.b64decode(user["client-certificate-data"]))
    _write_private(directory / "client.key", base64.b64decode(user["client-key-data"]))
    api_server = str(cluster_entry["server"]).removeprefix("https://")
    write_targets(provider, cluster, directory)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(scrape_config(directory, api_server, cluster), sort_keys=False))
    asyncio.run(_remember(config, directory))
    return path


async def _exports(client: APIClient) -> list[str]:
    try:
        record = await client.get(RECORD)
    except APIStatusError as e:
        if e.code == 404:
            return []
        raise
    return list(json.loads((record.get("data") or {}).get("directories", "[]")))


async def _remember(config: dict[str, Any], directory: Path) -> None:
    async with APIClient.from_kubeconfig(config) as client:
        known = await _exports(client)
        if str(directory) in known:
            return
        directories = json.dumps([*known, str(directory)])
        await save_configmap(
            client, "kube-system", RECORD.rsplit("/", 1)[1], {"directories": directories}
        )


def refresh_exports(provider: DockerProvider, cluster: str) -> None:
    """Rewrite the targets of every export of the cluster whose directory still exists."""
    try:
        config = admin_kubeconfig(provider, cluster)
    except NotFoundError:
        return

    async def directories() -> list[str]:
        async with APIClient.from_kubeconfig(config) as client:
            return await _exports(client)

    for directory in asyncio.run(directories()):
        if Path(directory, "prometheus.yml").exists():
            write_targets(provider, cluster, Path(directory))
