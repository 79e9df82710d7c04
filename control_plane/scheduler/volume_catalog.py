"""What the scheduler knows of storage: claims, volumes and classes by watch, and a way to
wait until the PV controller has bound a claim (the volume binding plugin's PreBind)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ku7s.api import meta
from ku7s.client.informer import Informer
from ku7s.client.rest import APIClient

Object = dict[str, Any]


def is_bound(claim: Object) -> bool:
    return bool((claim.get("spec") or {}).get("volumeName")) and (
        (claim.get("status") or {}).get("phase") == "Bound"
    )


class VolumeCatalog:
    def __init__(self, client: APIClient) -> None:
        self.claims = Informer(client, "/api/v1/persistentvolumeclaims")
        self.volumes = Informer(client, "/api/v1/persistentvolumes")
        self.classes = Informer(client, "/apis/storage.k8s.io/v1/storageclasses")
        self.claims.on_change(self._claim_changed)
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    @property
    def informers(self) -> list[Informer]:
        return [self.claims, self.volumes, self.classes]

    def claim(self, namespace: str, name: str) -> Object | None:
        return self.claims.get(f"{namespace}/{name}")

    def volume(self, name: str) -> Object | None:
        return self.volumes.get(name)

    def storage_class(self, name: str) -> Object | None:
        return self.classes.get(name) if name else None

    def all_volumes(self) -> list[Object]:
        return self.volumes.list()

    def _claim_changed(self, event: str, claim: Object) -> None:
        if event == "DELETED" or is_bound(claim):
            key = f"{meta.namespace_of(claim)}/{meta.name_of(claim)}"
            for waiter in self._waiters.pop(key, []):
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_bound(self, namespace: str, name: str, timeout: float) -> bool:
        """Whether the claim is bound within timeout (False also when it went away)."""
        key = f"{namespace}/{name}"
        claim = self.claims.get(key)
        if claim is not None and is_bound(claim):
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, timeout)
        claim = self.claims.get(key)
        return claim is not None and is_bound(claim)
