"""The namespace controller: when a namespace is deleted, delete everything in it, then
remove its ``kubernetes`` finalizer so the apiserver lets it go."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

log = logging.getLogger("namespace-controller")

Object = dict[str, Any]
FINALIZER = "kubernetes"


class ContentRemaining(Exception):
    """Objects still in the namespace (finalizers, graceful pods): try again later."""


class NamespaceController(Controller):
    name: ClassVar[str] = "namespace"
    recheck_interval: ClassVar[float] = 1.0

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.namespaces = self.factory.informer("/api/v1/namespaces")
        self.namespaces.on_change(self._changed)
        self.informers = [self.namespaces]

    def _changed(self, event: str, namespace: Object) -> None:
        if event != "DELETED" and namespace["metadata"].get("deletionTimestamp"):
            self.queue.add(namespace["metadata"]["name"])

    async def reconcile(self, key: str) -> None:
        namespace = self.namespaces.get(key)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        finalizers = (namespace.get("spec") or {}).get("finalizers") or []
        if FINALIZER not in finalizers:
            return
        remaining = 0
        for path in await self._namespaced_collections(key):
            remaining += await self._empty(path)
        if remaining:
            # Pods stop within their grace periods: look again soon, not after a back-off.
            self.queue.add_after(key, self.recheck_interval)
            raise ContentRemaining(f"{remaining} objects left in namespace {key}")
        finalized = {
            **namespace,
            "spec": {"finalizers": [f for f in finalizers if f != FINALIZER]},
        }
        try:
            await self.client.replace(f"/api/v1/namespaces/{key}/finalize", finalized)
        except APIStatusError as e:
            if e.code != 404:
                raise
        log.info("namespace %s emptied and finalized", key)

    async def _namespaced_collections(self, namespace: str) -> list[str]:
        """The collection path of every namespaced, deletable resource the API serves."""
        versions = ["/api/v1"]
        groups = await self.client.get("/apis")
        for group in groups.get("groups", []):
            versions.append(f"/apis/{group['preferredVersion']['groupVersion']}")
        paths = []
        for prefix in versions:
            listing = await self.client.get(prefix)
            for resource in listing.get("resources", []):
                if (
                    resource.get("namespaced")
                    and "/" not in resource["name"]
                    and "delete" in resource.get("verbs", [])
                ):
                    paths.append(f"{prefix}/namespaces/{namespace}/{resource['name']}")
        return paths

    async def _empty(self, path: str) -> int:
        """Delete everything under path; return how many objects are still there."""
        listing = await self.client.get(path)
        for item in listing.get("items", []):
            if item["metadata"].get("deletionTimestamp"):
                continue
            try:
                await self.client.delete(
                    f"{path}/{item['metadata']['name']}", {"propagationPolicy": "Background"}
                )
            except APIStatusError as e:
                if e.code != 404:
                    raise
        return len((await self.client.get(path)).get("items", []))
