"""Controller history: the ControllerRevisions DaemonSets and StatefulSets keep of their pod
templates, as upstream's history package keeps them. Each revision holds its template as
the strategic merge patch that puts it back (what ``kubectl rollout undo`` applies), is
numbered after the newest, and old ones beyond revisionHistoryLimit are deleted."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from control_plane.controllers import pod_control as pc
from ku7s.api import meta
from ku7s.client.informer import Informer, InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("controller-history")

REVISION_LABEL = "controller-revision-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"
DEFAULT_HISTORY_LIMIT = 10


def template_revision(template: Object) -> str:
    """A short hash naming a pod template's revision."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def revision_informer(factory: InformerFactory) -> Informer:
    revisions = factory.informer("/apis/apps/v1/controllerrevisions")
    revisions.add_index("controller", pc.controller_uid)
    return revisions


class History:
    def __init__(self, client: APIClient, revisions: Informer) -> None:
        self._client = client
        self._revisions = revisions

    def owned(self, owner: Object) -> list[Object]:
        return self._revisions.by_index("controller", meta.uid_of(owner))

    async def record(self, owner: Object, in_use: set[str]) -> str:
        """Make sure the owner's current template is its newest revision; return its hash.
        in_use: hashes live pods still carry, kept whatever the limit."""
        spec = owner.get("spec") or {}
        template = spec.get("template") or {}
        revision_hash = template_revision(template)
        name = f"{meta.name_of(owner)}-{revision_hash}"
        owned = self.owned(owner)
        newest = max((int(r.get("revision", 0)) for r in owned), default=0)
        current = next((r for r in owned if meta.name_of(r) == name), None)
        path = f"/apis/apps/v1/namespaces/{meta.namespace_of(owner)}/controllerrevisions"
        try:
            if current is None:
                await self._client.create(
                    path, self._revision(owner, name, revision_hash, newest + 1)
                )
            elif int(current.get("revision", 0)) < newest:  # an old template back in use
                await self._client.patch(f"{path}/{name}", {"revision": newest + 1})
        except APIStatusError as e:
            if e.code != 409:  # made by an earlier pass that the cache has not seen yet
                raise
        limit = int(spec.get("revisionHistoryLimit", DEFAULT_HISTORY_LIMIT))
        await self._prune(owned, {revision_hash, *in_use}, limit, path)
        return revision_hash

    @staticmethod
    def _revision(owner: Object, name: str, revision_hash: str, number: int) -> Object:
        template = meta.clone((owner.get("spec") or {}).get("template") or {})
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[REVISION_LABEL] = revision_hash
        metadata: Object = {
            "name": name,
            "labels": labels,
            "ownerReferences": [pc.controller_ref(owner)],
        }
        cause = meta.annotations_of(owner).get(CHANGE_CAUSE)
        if cause:
            metadata["annotations"] = {CHANGE_CAUSE: cause}
        template["$patch"] = "replace"
        return {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": metadata,
            "data": {"spec": {"template": template}},
            "revision": number,
        }

    async def _prune(self, owned: list[Object], keep: set[str], limit: int, path: str) -> None:
        spare = [r for r in owned if meta.labels_of(r).get(REVISION_LABEL) not in keep]
        spare.sort(key=lambda r: int(r.get("revision", 0)))
        for revision in spare[: max(0, len(spare) - limit)]:
            try:
                await self._client.delete(f"{path}/{meta.name_of(revision)}")
            except APIStatusError as e:
                if e.code != 404:
                    raise
