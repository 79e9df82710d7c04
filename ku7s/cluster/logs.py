"""``ku7s export logs DIR``: every node's logs on the host, as ``kind export logs`` gathers
them: per node, each component's log kept by the node's supervisor (``/var/log/ku7s``), the
pods' container logs (``/var/log/pods``), and the node container's own output."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import docker.errors

from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import NotFoundError, UserInputError

#: Directories copied out of every node.
NODE_LOG_DIRS = ("/var/log/ku7s", "/var/log/pods")


def _extract(archive: bytes, into: Path) -> int:
    """Unpack files only (no links, devices or paths leaving ``into``); count them."""
    count = 0
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            target = (into / member.name).resolve()
            if not member.isfile() or not target.is_relative_to(into.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
                count += 1
    return count


def export_logs(provider: DockerProvider, cluster: str, directory: Path) -> dict[str, int]:
    """Copy each node's logs under directory/<node>/; return how many files per node."""
    nodes = provider.list_nodes(cluster)
    if not nodes:
        raise NotFoundError(f'no cluster named "{cluster}"')
    if directory.exists() and not directory.is_dir():
        raise UserInputError(f"{directory} exists and is not a directory")
    counts: dict[str, int] = {}
    for node in nodes:
        into = directory / node.name
        into.mkdir(parents=True, exist_ok=True)
        container = provider.client.containers.get(node.name)
        (into / "container.log").write_bytes(container.logs(timestamps=True))
        counts[node.name] = 1
        for path in NODE_LOG_DIRS:
            try:
                stream, _ = container.get_archive(path)
            except docker.errors.NotFound:
                continue
            counts[node.name] += _extract(b"".join(stream), into)
    return counts
