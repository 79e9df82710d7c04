"""End-to-end fixtures: real Docker, the real node image, real kubectl binaries.

One cluster is shared by the tests that do not disturb it; tests that must break or
reconfigure a cluster make their own (a cluster takes a few seconds). Every cluster name
carries a random suffix, and every cluster is deleted at the end, also when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from ku7s.cluster.images import ImageBuilder
from ku7s.cluster.providers.docker import DockerProvider

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_VERSIONS = ("1.33", "1.27")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on the host's loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubectl_path(version: str) -> str:
    path = KUBECTL_DIR / f"kubectl.{version}"
    if not path.exists():
        raise RuntimeError(f"kubectl {version} is expected at {path}")
    return str(path)


def chaos(cluster: Cluster, *args: str) -> subprocess.Popen[str]:
    """A `ku7s chaos` run in the background, as a user's second terminal would."""
    return subprocess.Popen(
        [sys.executable, "-m", "ku7s", "chaos", *args, "--name", cluster.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **cluster.env},
    )


def injected(run: subprocess.Popen[str]) -> str:
    """Wait for the run to report its fault injected; return that line."""
    assert run.stdout is not None
    for line in run.stdout:
        if "injected" in line:
            return line
    raise AssertionError(
        f"the chaos run ended without injecting: {run.stderr and run.stderr.read()}"
    )


def run_ku7s(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ku7s", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


@dataclass
class Cluster:
    name: str
    kubeconfig: Path
    cache_dir: Path
    provider: DockerProvider

    @property
    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl_argv(self, version: str = "1.33") -> list[str]:
        return [
            kubectl_path(version),
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.cache_dir / version),
        ]

    def kubectl(
        self, *args: str, version: str = "1.33", check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.kubectl_argv(version), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def pinned_pod(
        self,
        name: str,
        node: str,
        namespace: str = "default",
        image: str = "busybox",
        command: tuple[str, ...] = ("sleep", "3600"),
    ) -> None:
        """Run a pod on the given node (no grace period) and wait until it is Ready."""
        overrides = json.dumps({"spec": {"nodeName": node, "terminationGracePeriodSeconds": 0}})
        run = ["run", name, "-n", namespace, f"--image={image}", f"--overrides={overrides}"]
        self.kubectl(*run, *(["--", *command] if command else []))
        self.kubectl(
            "wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=60s",
            timeout=70,
        )  # fmt: skip

    def get_json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def node_ready(self) -> dict[str, str]:
        """Node name -> the Ready condition's status."""
        nodes = self.get_json("nodes")["items"]
        result = {}
        for node in nodes:
            ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
            result[node["metadata"]["name"]] = ready[0]["status"] if ready else "?"
        return result

    def wait_for(self, condition, timeout: float, interval: float = 0.1, what: str = "") -> float:
        """Poll until condition() is true; return the seconds it took."""
        started = time.monotonic()
        last = None
        while time.monotonic() - started < timeout:
            try:
                last = condition()
                if last:
                    return time.monotonic() - started
            except (AssertionError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                last = e
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}: last {last!r}")

    @contextlib.contextmanager
    def namespace(self, prefix: str) -> Iterator[str]:
        """A namespace of its own for a test, deleted (without waiting) afterwards."""
        name = unique(prefix)
        self.kubectl("create", "namespace", name)
        try:
            yield name
        finally:
            self.kubectl("delete", "namespace", name, "--wait=false", check=False)

    @property
    def workers(self) -> list[str]:
        return [n.name for n in self.provider.list_nodes(self.name) if n.role == "worker"]


@pytest.fixture(scope="session")
def provider() -> DockerProvider:
    return DockerProvider.connect()


@pytest.fixture(scope="session")
def node_image(provider: DockerProvider) -> str:
    """Built once per run (a no-op when the sources have not changed)."""
    return ImageBuilder(provider.client).ensure_node().image


@contextlib.contextmanager
def new_cluster(
    provider: DockerProvider, directory: Path, prefix: str, *args: str
) -> Iterator[Cluster]:
    """Create a cluster with the real CLI; always delete it afterwards."""
    name = unique(prefix)
    cluster = Cluster(name, directory / f"{name}.kubeconfig", directory / f"{name}-cache", provider)
    try:
        result = run_ku7s("create", "cluster", "--name", name, *args, env=cluster.env)
        assert result.returncode == 0, f"create failed: {result.stderr}"
        yield cluster
    finally:
        run_ku7s("delete", "cluster", "--name", name, env=cluster.env)


@pytest.fixture(scope="session")
def cluster(
    provider: DockerProvider, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with new_cluster(provider, tmp_path_factory.mktemp("shared"), "e2e", "--workers", "3") as c:
        yield c


@pytest.fixture
def scratch_dir(tmp_path: Path) -> Path:
    return tmp_path


# -- helper hosts (pytest-docker, helper_hosts.yml) ------------------------------------------


def write_key(path: Path) -> paramiko.RSAKey:
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(path))
    return key


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, paramiko.RSAKey]:
    """The key the helper hosts let root (and the VM's users) in with."""
    path = tmp_path_factory.mktemp("ssh") / "id_rsa"
    return path, write_key(path)


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    return "docker-compose"  # Debian's (v1), which works with this engine


@pytest.fixture(scope="session")
def docker_setup() -> str:
    return "up --build -d"


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return unique("ku7s-helpers").replace("-", "")


@pytest.fixture(scope="session")
def docker_compose_file(provider: DockerProvider, client_key: tuple[Path, paramiko.RSAKey]) -> str:
    from tests.e2e.docker_hosts import HOST_PACKAGES
    from tests.e2e.ssh_machines import plain_debian

    _, key = client_key
    os.environ["KU7S_VM_BASE_IMAGE"] = plain_debian(provider)
    os.environ["KU7S_DOCKER_HOST_BASE_IMAGE"] = plain_debian(provider, HOST_PACKAGES)
    os.environ["KU7S_VM_AUTHORIZED_KEY"] = f"{key.get_name()} {key.get_base64()}"
    return str(Path(__file__).parent / "helper_hosts.yml")
