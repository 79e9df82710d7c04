"""A Docker engine of the test's own, for tests whose commands act on every cluster of an
engine (`ku7s delete cluster --all`): run on the engine everyone shares, they would take the
suite's other clusters, and a developer's own, with them.

It is a second dockerd in a network namespace made for it (so its iptables rules, bridges
and published ports are its own), with its own data and state directories and cgroup
parent, and the node image copied in. ku7s commands for it run in that network namespace with
DOCKER_HOST pointing at it. Everything goes when the test ends: the engine's containers,
the daemon, the namespace and the directories.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from ku7s.cluster.providers.docker import DockerProvider


def in_netns(name: str) -> list[str]:
    """A command's prefix to run it in the named network namespace. Not `ip netns exec`,
    which mounts a /sys of its own and so hides the cgroup hierarchies dockerd needs."""
    return ["nsenter", f"--net=/run/netns/{name}"]


@dataclass
class PrivateEngine:
    netns: str
    socket: str
    provider: DockerProvider

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}

    def ku7s(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """A ku7s command on this engine, started (the caller waits for it)."""
        return subprocess.Popen(
            [*in_netns(self.netns), sys.executable, "-m", "ku7s", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, **(env or {})},
        )


def _connect(socket: str, daemon: subprocess.Popen[bytes], log: Path) -> docker.DockerClient:
    """A client of the new daemon, once it answers."""
    deadline = time.monotonic() + 60
    while True:
        try:
            client = docker.DockerClient(base_url=f"unix://{socket}", timeout=300)
            client.ping()
            return client
        except Exception as e:
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-2000:]
                raise RuntimeError(f"the private dockerd did not start: {tail}") from e
            time.sleep(0.2)


@contextlib.contextmanager
def private_engine(node_image: str) -> Iterator[PrivateEngine]:
    name = f"ku7s-e2e-{secrets.token_hex(3)}"
    state = Path("/run") / name
    data = Path("/var/lib") / name
    state.mkdir(parents=True)
    socket = str(state / "docker.sock")
    log = state / "dockerd.log"
    subprocess.run(["ip", "netns", "add", name], check=True)
    daemon: subprocess.Popen[bytes] | None = None
    client: docker.DockerClient | None = None
    try:
        subprocess.run([*in_netns(name), "ip", "link", "set", "lo", "up"], check=True)
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                [
                    *in_netns(name), "dockerd",
                    "--host", f"unix://{socket}",
                    "--data-root", str(data),
                    "--exec-root", str(state / "exec"),
                    "--pidfile", str(state / "dockerd.pid"),
                    "--cgroup-parent", f"/{name}",
                ],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        client = _connect(socket, daemon, log)
        # The node image, as the shared engine has it (its labels say it is current).
        saving = subprocess.Popen(["docker", "save", node_image], stdout=subprocess.PIPE)
        loading = subprocess.run(
            ["docker", "-H", f"unix://{socket}", "load", "-q"],
            stdin=saving.stdout, capture_output=True, text=True,
        )  # fmt: skip
        saving.wait()
        if loading.returncode != 0:
            raise RuntimeError(f"loading {node_image} into the private engine: {loading.stderr}")
        yield PrivateEngine(name, socket, DockerProvider(client))
    finally:
        if client is not None:
            for container in client.containers.list(all=True):
                with contextlib.suppress(docker.errors.DockerException):
                    container.remove(force=True, v=True)
            client.close()
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
        _remove_cgroups(name)


def _remove_cgroups(parent: str) -> None:
    """The engine's cgroup parent in every hierarchy, innermost first (a cgroup directory
    goes with rmdir once it has no children and no processes)."""
    for hierarchy in Path("/sys/fs/cgroup").glob(f"*/{parent}"):
        for directory in sorted(hierarchy.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
