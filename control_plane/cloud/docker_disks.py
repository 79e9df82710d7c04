"""The mock cloud's disks: each is a Docker volume of the cluster's engine, attached to at
most one node at a time by an attachment container.

Docker cannot add a mount to a running container, so an attachment is a small container
that mounts the volume, serves it through FUSE (bindfs) and moves that mount into the
node's mount namespace at ``/var/lib/ku7s/disks/<disk>`` (it shares the node's process
namespace, so it dies with the node, as a disk leaves a VM that is gone). Because the
node sees the disk through the attachment's FUSE server, killing the attachment makes
every read and write of the node's pods on it fail, as when a cloud disk is yanked.
The Docker SDK is synchronous; every call runs in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Callable
from typing import Any

import docker
import docker.errors

from ku7s.api import persistent_volumes as pv
from ku7s.names import (
    CLUSTER_LABEL,
    DISK_ATTACHMENT,
    NODE_LABEL,
    ROLE_LABEL,
    disk_attachment_name,
)

#: How long an attachment may take to show the disk in the node.
ATTACH_TIMEOUT = 20.0
DISK_ROLE = "disk"


class DiskError(Exception):
    """The cloud refused or failed an operation on a disk (the message says why)."""


class DiskInUse(DiskError):
    """The disk is attached to another node, which is running."""


def disk_path(handle: str) -> str:
    return f"{pv.DISKS_ROOT}/{handle}"


class DockerDisks:
    def __init__(self, client: docker.DockerClient, cluster: str, image: Callable[[], str]) -> None:
        self._client = client
        self._cluster = cluster
        self._image = image

    def handle_for(self, volume_name: str) -> str:
        """A disk's name: the cluster's, so that clusters sharing an engine never collide."""
        return f"{self._cluster}-{volume_name}"

    async def create(self, handle: str) -> None:
        def create() -> None:
            labels = {CLUSTER_LABEL: self._cluster, ROLE_LABEL: DISK_ROLE}
            self._client.volumes.create(handle, labels=labels)

        await asyncio.to_thread(create)

    async def delete(self, handle: str) -> None:
        def delete() -> None:
            with contextlib.suppress(docker.errors.NotFound):
                self._client.containers.get(disk_attachment_name(handle)).remove(force=True)
            try:
                self._client.volumes.get(handle).remove()
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as e:
                raise DiskError(f"disk {handle} cannot be deleted: {e.explanation}") from e

        await asyncio.to_thread(delete)

    async def attach(self, handle: str, node: str) -> None:
        """Attach the disk to the node (done if it is); a disk attached to another running
        node is refused, one left on a stopped or gone node is taken from it."""
        prepared = await asyncio.to_thread(self._prepare_attach, handle, node)
        if prepared is None:
            return
        container, attached_before = prepared
        deadline = time.monotonic() + ATTACH_TIMEOUT
        while True:
            state, logs = await asyncio.to_thread(_state_and_logs, container)
            if logs.split().count("attached") > attached_before:  # one line per start
                return
            if state not in ("created", "running") or time.monotonic() > deadline:
                await asyncio.to_thread(_remove, container)
                reason = logs.strip().splitlines()[-1:] or [f"the attachment is {state}"]
                raise DiskError(f"attaching disk {handle} to node {node}: {reason[0]}")
            await asyncio.sleep(0.1)

    def _prepare_attach(self, handle: str, node: str) -> tuple[Any, int] | None:
        """The attachment container to wait for and how often it said it attached before
        (it says so once per start), or None when the disk is attached."""
        name = disk_attachment_name(handle)
        try:
            existing = self._client.containers.get(name)
        except docker.errors.NotFound:
            existing = None
        if existing is not None:
            holder = existing.labels.get(NODE_LABEL, "")
            if holder == node:
                if existing.status == "running" or not self._restarted_since(node, existing):
                    # Running, or killed under a running node (`ku7s chaos detach-volume`):
                    # the node keeps what it has until the fault is reverted.
                    return None
                before = existing.logs().decode(errors="replace").split().count("attached")
                existing.start()  # the node restarted: its disks come back, as a VM's
                return existing, before
            if existing.status == "running" and self._running(holder):
                raise DiskInUse(f"disk {handle} is attached to node {holder}")
            _remove(existing)  # its node is stopped or gone: the disk is free
        try:
            self._client.volumes.get(handle)
        except docker.errors.NotFound as e:
            raise DiskError(f"disk {handle} does not exist") from e
        try:
            created = self._client.containers.run(
                self._image(),
                name=name,
                entrypoint=["python3", "-m", "node_image.disk_attachment"],
                command=["/disk", disk_path(handle)],
                labels={
                    CLUSTER_LABEL: self._cluster,
                    ROLE_LABEL: DISK_ATTACHMENT,
                    NODE_LABEL: node,
                },
                pid_mode=f"container:{node}",
                network_mode="none",
                devices=["/dev/fuse:/dev/fuse:rwm"],
                cap_add=["SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE"],
                security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                volumes={handle: {"bind": "/disk", "mode": "rw"}},
                detach=True,
            )
            return created, 0
        except docker.errors.NotFound as e:
            raise DiskError(f"node {node} has no container to attach disk {handle} to") from e
        except docker.errors.APIError as e:
            raise DiskError(f"attaching disk {handle} to node {node}: {e.explanation}") from e

    def _running(self, node: str) -> bool:
        try:
            return bool(self._client.containers.get(node).status == "running")
        except docker.errors.NotFound:
            return False

    def _restarted_since(self, node: str, attachment: Any) -> bool:
        """Whether the node's container started after the attachment stopped."""
        try:
            started = self._client.containers.get(node).attrs["State"]["StartedAt"]
        except docker.errors.NotFound:
            return False
        finished = attachment.attrs["State"].get("FinishedAt") or ""
        return _instant(started) > _instant(finished)

    async def detach(self, handle: str, node: str) -> None:
        """Take the disk from the node (done if it is not there): unmounted in the node
        (lazily: its last user has gone), then the attachment removed."""

        def detach() -> None:
            try:
                existing = self._client.containers.get(disk_attachment_name(handle))
            except docker.errors.NotFound:
                return
            if existing.labels.get(NODE_LABEL) != node:
                return
            if self._running(node):
                with contextlib.suppress(docker.errors.APIError):
                    self._client.containers.get(node).exec_run(["umount", "-l", disk_path(handle)])
            _remove(existing)

        await asyncio.to_thread(detach)

    async def attachment(self, handle: str) -> tuple[str, str] | None:
        """(node, container state) of the disk's attachment, if it has one."""

        def look() -> tuple[str, str] | None:
            try:
                existing = self._client.containers.get(disk_attachment_name(handle))
            except docker.errors.NotFound:
                return None
            return existing.labels.get(NODE_LABEL, ""), str(existing.status)

        return await asyncio.to_thread(look)


def _state_and_logs(container: Any) -> tuple[str, str]:
    container.reload()
    return str(container.status), container.logs().decode(errors="replace")


def _remove(container: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


def _instant(stamp: str) -> datetime.datetime:
    """Docker's RFC 3339 times have nanoseconds; the zero time means never."""
    if not stamp or stamp.startswith("0001-"):
        return datetime.datetime.min.replace(tzinfo=datetime.UTC)
    head, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(f"{head}.{fraction[:6].ljust(6, '0')}+00:00")
