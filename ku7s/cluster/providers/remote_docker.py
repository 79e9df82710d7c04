"""Docker engines on other machines, reached over SSH (``--docker-host ssh://user@host``).

The Docker SDK speaks to such an engine through paramiko by running
``docker system dial-stdio`` on the machine; here it rides on ku7s's own SSH connection, so
the host key is checked as for SSH nodes (known_hosts or a pinned fingerprint, never on
first sight). Images are copied with ``docker save`` streamed into ``docker load`` on the
machine: no registry is needed, and the SDK's HTTP-over-SSH stalls on such large bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
from docker.transport.sshconn import SSHHTTPAdapter

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.privileges import Capabilities
from ku7s.cluster.providers.ssh import SSHError, SSHHost, SSHTarget
from ku7s.errors import DockerUnavailableError, UserInputError

#: The API version asked for: Engine 20.10's, which newer engines still serve.
API_VERSION = "1.41"
#: Sessions the Docker API may hold open on the SSH connection at once.
MAX_SESSIONS = 4
_URL = re.compile(r"^ssh://(?P<target>[^/?#]+)/?$")


def parse_docker_host(url: str) -> SSHTarget:
    """ssh://[user@]host[:port] -> where to log in (root unless a user is given)."""
    match = _URL.match(url)
    if not match:
        raise UserInputError(
            f"invalid --docker-host {url!r}: expected ssh://[user@]host[:port] "
            "(other engines are reached over SSH)"
        )
    return SSHTarget.parse(match["target"])


def _client_over(host: SSHHost, url: str) -> docker.DockerClient:
    """A Docker SDK client whose requests go through host's SSH connection."""
    api = docker.APIClient(base_url="tcp://127.0.0.1:9", version=API_VERSION, timeout=600)
    # The adapter keeps a pool, so a session, per URL: few pools, or sshd's limit on
    # sessions per connection (MaxSessions, 10 by default) refuses the next one.
    adapter = SSHHTTPAdapter(url, pool_connections=MAX_SESSIONS, shell_out=True)
    adapter.ssh_client = host.transport  # built no connection of its own: uses this one
    api.mount("http+docker://ssh", adapter)
    api.base_url = "http+docker://ssh"
    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = api
    return client


class RemoteEngine:
    """One engine over one SSH connection: ``with RemoteEngine(url, host) as engine:``."""

    def __init__(self, url: str, host: SSHHost) -> None:
        self.url = url
        self.host = host
        self._provider: DockerProvider | None = None

    @property
    def provider(self) -> DockerProvider:
        if self._provider is None:
            raise RuntimeError("RemoteEngine used outside its with-block")
        return self._provider

    def __enter__(self) -> RemoteEngine:
        self.host.connect()
        try:
            if self.host.run("command -v docker", check=False).code != 0:
                raise SSHError(
                    f"{self.host.target.host} has no docker command: the SDK reaches the "
                    "engine through `docker system dial-stdio` (install Docker there)"
                )
            client = _client_over(self.host, self.url)
            try:
                client.ping()
            except docker.errors.DockerException as e:
                raise DockerUnavailableError(
                    f"cannot reach the Docker engine on {self.host.target.host}: {e}"
                ) from None
            capabilities = Capabilities.parse(
                self.host.run("cat /proc/self/status", check=False).stdout,
                self.host.run("cat /proc/sys/kernel/cap_last_cap", check=False).stdout,
            )
            self._provider = DockerProvider(
                client, capabilities=capabilities, parallel_requests=MAX_SESSIONS
            )
        except BaseException:
            self.host.close()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        self.host.close()

    def copy_image(
        self, local: docker.DockerClient, tag: str, say: Callable[[str], None] = lambda _: None
    ) -> bool:
        """Make the engine hold the local image under its tag; return whether it was copied."""
        image = local.images.get(tag)
        try:
            if self.provider.client.images.get(tag).id == image.id:
                return False
        except docker.errors.ImageNotFound:
            pass
        size = int(image.attrs.get("Size", 0)) >> 20
        say(f"copying {tag} ({size} MiB) to {self.host.target.host}")
        self.host.run("docker load -q", stdin=image.save(chunk_size=1 << 20, named=tag))
        return True
