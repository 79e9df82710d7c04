"""``detach-volume``: a claim's ku7s-disk goes away under the pods using it, as when a
cloud disk is detached or fails: its attachment container (the FUSE server through which
the node sees the disk) is killed, so every read and write of the pods on it fails with an
I/O error. The revert attaches it again and restarts the containers of the pods that use
it (a filesystem whose disk went away has to be mounted again; their restart policy
brings them back with the disk). Targets are ``namespace/claim``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from ku7s.api import persistent_volumes as pv
from ku7s.chaos.faults.pod import kill_containers
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, NotFoundError
from ku7s.names import disk_attachment_name

VOLUME_KINDS = ("detach-volume",)
REATTACH_TIMEOUT = 20.0


def _attached_count(container: Any) -> int:
    """How often the attachment said it attached the disk (once per start)."""
    return container.logs().decode(errors="replace").split().count("attached")


@dataclass
class VolumeFault:
    kind: str
    engines: ClusterEngines
    client: APIClient
    targets: list[str] = field(default_factory=list)

    @property
    def reversible(self) -> bool:
        return True

    def parameters(self) -> dict[str, Any]:
        return {}

    async def inject(self) -> None:
        attachments = [await self._attachment(target) for target in self.targets]
        for target, name in zip(self.targets, attachments, strict=True):
            await asyncio.to_thread(self._kill, target, name)

    def _kill(self, target: str, name: str) -> None:
        try:
            container = self.engines.local.client.containers.get(name)
        except docker.errors.NotFound:
            raise Ku7sError(f"the disk of claim {target} is not attached to any node") from None
        if container.status != "running":
            raise Ku7sError(f"the disk of claim {target} is detached already")
        container.kill()

    async def revert(self) -> None:
        for target in self.targets:
            name = await self._attachment(target)
            restarted = await asyncio.to_thread(self._reattach, name)
            if restarted:
                for pod in await self._users(target):
                    with contextlib.suppress(Ku7sError):  # none running: nothing to restart
                        await asyncio.to_thread(kill_containers, self.engines, pod)

    def _reattach(self, name: str) -> bool:
        """Start the attachment again and wait until the node has the disk; False if it
        runs (or is gone: detached since)."""
        try:
            container = self.engines.local.client.containers.get(name)
        except docker.errors.NotFound:
            return False
        if container.status == "running":
            return False
        before = _attached_count(container)
        container.start()
        deadline = time.monotonic() + REATTACH_TIMEOUT
        while _attached_count(container) == before:
            container.reload()
            if container.status != "running" or time.monotonic() > deadline:
                tail = container.logs(tail=1).decode(errors="replace").strip()
                raise Ku7sError(f"{name} did not attach its disk again: {tail}")
            time.sleep(0.1)
        return True

    async def _attachment(self, target: str) -> str:
        namespace, _, name = target.partition("/")
        try:
            claim = await self.client.get(
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
            )
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if not volume_name:
                raise Ku7sError(f"claim {target} is not bound to a volume")
            volume = await self.client.get(f"/api/v1/persistentvolumes/{volume_name}")
        except APIStatusError as e:
            raise NotFoundError(f"claim {target}: {e.message}") from None
        handle = pv.disk_handle(volume)
        if not handle:
            raise Ku7sError(f"claim {target} is not a {pv.DISK_CLASS} volume")
        return disk_attachment_name(handle)

    async def _users(self, target: str) -> list[dict[str, Any]]:
        """The running pods that use the claim."""
        namespace, _, name = target.partition("/")
        listing = await self.client.get(f"/api/v1/namespaces/{namespace}/pods")
        return [
            pod
            for pod in listing.get("items") or []
            if name in pv.pod_claim_names(pod)
            and (pod.get("status") or {}).get("containerStatuses")
            and not pod["metadata"].get("deletionTimestamp")
        ]
