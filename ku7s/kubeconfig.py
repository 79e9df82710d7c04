"""Kubeconfig files: render a cluster's admin config and merge it into the user's file.

The merge follows kubectl's rules for where new entries go: the first file of $KUBECONFIG
that exists (else its first entry), or ~/.kube/config. Entries are named ``ku7s-<cluster>``;
other entries are never touched. A lock file beside the target serializes concurrent merges.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ku7s.errors import Ku7sError
from ku7s.names import context_name

Config = dict[str, Any]


def render(cluster: str, server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> Config:
    name = context_name(cluster)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}
        ],
        "users": [
            {
                "name": name,
                "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def with_server(config: Config, server: str) -> Config:
    clusters = [
        {**c, "cluster": {**c["cluster"], "server": server}} for c in config.get("clusters", [])
    ]
    return {**config, "clusters": clusters}


def dump(config: Config) -> str:
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def default_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    paths = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    for path in paths:
        if path.exists():
            return path
    if paths:
        return paths[0]
    return Path(env.get("HOME", str(Path.home()))) / ".kube" / "config"


@contextlib.contextmanager
def _locked(path: Path, timeout: float = 10) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    # On a fresh machine ~/.kube does not exist yet; the lock is the first thing made in it.
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise Ku7sError(
                    f"{lock} exists: another process is writing the kubeconfig "
                    "(remove the file if no other ku7s or kubectl is running)"
                ) from None
            time.sleep(0.05)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _load(path: Path) -> Config:
    if not path.exists():
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [],
            "users": [],
            "contexts": [],
            "current-context": "",
        }
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise Ku7sError(f"{path} is not a valid kubeconfig: {e}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise Ku7sError(f"{path} is not a valid kubeconfig")
    for section in ("clusters", "users", "contexts"):
        data[section] = data.get(section) or []
    return data


def _write(path: Path, config: Config) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump(config))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def merge(path: Path, entry: Config, *, make_current: bool = True) -> None:
    """Add or replace the entry's cluster, user and context, and make it current."""
    with _locked(path):
        config = _load(path)
        for section in ("clusters", "users", "contexts"):
            names = {item["name"] for item in entry[section]}
            config[section] = [i for i in config[section] if i.get("name") not in names]
            config[section] += entry[section]
        if make_current or not config.get("current-context"):
            config["current-context"] = entry["current-context"]
        _write(path, config)


def remove(path: Path, cluster: str) -> bool:
    """Remove the cluster's entries; return whether there were any."""
    if not path.exists():
        return False
    name = context_name(cluster)
    with _locked(path):
        config = _load(path)
        found = False
        for section in ("clusters", "users", "contexts"):
            kept = [i for i in config[section] if i.get("name") != name]
            found |= len(kept) != len(config[section])
            config[section] = kept
        if config.get("current-context") == name:
            config["current-context"] = ""
        if found:
            _write(path, config)
        return found
