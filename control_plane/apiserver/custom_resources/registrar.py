"""The registrar: follows CustomResourceDefinitions and serves what they define, as
upstream's naming, establishing and finalizing controllers do between them.

A definition's names are accepted unless an older definition in the same group uses its
kind, singular or a short name; then each served version becomes a kind the API serves at
once (discovery included) and the definition is marked ``Established``. A deleted
definition keeps being served (creates refused) while its objects are deleted, then loses
its clean-up finalizer and goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from control_plane.apiserver import errors
from control_plane.apiserver.admission.webhooks.client import WebhookClient
from control_plane.apiserver.custom_resources.conversion import WebhookConverter
from control_plane.apiserver.following import follow
from control_plane.apiserver.kinds.custom_resource import CustomResourceKind
from control_plane.apiserver.kinds.custom_resource_definition import (
    CLEANUP_FINALIZER,
    GROUP,
    storage_version,
)
from control_plane.apiserver.registry import DeleteOptions, ListOptions, Registry
from ku7s.api import meta

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]
#: How often a deleted definition's clean-up looks again for objects still there.
CLEANUP_INTERVAL = 0.5


def accepted_names(crd: Object) -> Object:
    names = dict(crd["spec"].get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    return names


def _condition(kind: str, status: str, reason: str, message: str) -> Object:
    return {"type": kind, "status": status, "reason": reason, "message": message}


class CustomResourceRegistrar:
    def __init__(self, registry: Registry, webhooks: WebhookClient | None = None) -> None:
        self._registry = registry
        #: How conversion webhooks are called (none: definitions' webhooks are not).
        self._webhooks = webhooks
        self._kind = registry.kinds.get("customresourcedefinitions", GROUP)
        self._crds: dict[str, Object] = {}
        #: What each definition is served as now: (generation, terminating, conflict).
        self._served: dict[str, tuple[Any, ...]] = {}
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        #: The names each definition holds: (group, names), first come first served.
        self._accepted: dict[str, tuple[str, set[str]]] = {}
        self._synced = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        following = asyncio.create_task(
            follow(self._registry, self._kind, self._listed, self._changed, why="custom resources")
        )
        try:
            await stop.wait()
        finally:
            for task in (following, *self._cleanups.values()):
                task.cancel()
            await asyncio.gather(following, *self._cleanups.values(), return_exceptions=True)

    async def wait_synced(self) -> None:
        await self._synced.wait()

    # -- following -----------------------------------------------------------------------

    async def _listed(self, items: list[Object]) -> None:
        present = {meta.name_of(crd) for crd in items}
        for gone in set(self._crds) - present:
            self._withdraw(gone)
        self._crds = {meta.name_of(crd): crd for crd in items}
        for crd in items:  # names accepted before keep being theirs
            accepted = (crd.get("status") or {}).get("acceptedNames") or {}
            if accepted.get("kind"):
                self._accepted[meta.name_of(crd)] = (crd["spec"].get("group"), _claimed(accepted))
        for crd in sorted(items, key=_age):
            await self._sync(crd)
        self._synced.set()

    async def _changed(self, event: str, crd: Object) -> None:
        name = meta.name_of(crd)
        if event == "DELETED":
            self._withdraw(name)
            return
        self._crds[name] = crd
        await self._sync(crd)

    def _withdraw(self, name: str) -> None:
        self._crds.pop(name, None)
        self._served.pop(name, None)
        self._accepted.pop(name, None)
        self._registry.kinds.withdraw(name)
        cleanup = self._cleanups.pop(name, None)
        if cleanup is not None:
            cleanup.cancel()

    # -- serving -------------------------------------------------------------------------

    async def _sync(self, crd: Object) -> None:
        name = meta.name_of(crd)
        terminating = bool(crd["metadata"].get("deletionTimestamp"))
        conflict = self._conflict(crd)
        state = (crd["metadata"].get("generation"), terminating, conflict)
        if self._served.get(name) != state:
            self._served[name] = state
            if conflict is None:
                versions = [v for v in crd["spec"].get("versions") or [] if v.get("served")]
                converter = self._converter(crd)
                self._registry.kinds.serve(name, [
                    CustomResourceKind(crd, v, terminating=terminating, converter=converter)
                    for v in versions
                ])  # fmt: skip
            else:
                self._registry.kinds.withdraw(name)
        await self._write_status(crd, conflict, terminating)
        if terminating and name not in self._cleanups:
            self._cleanups[name] = asyncio.create_task(self._clean_up(name))

    def _converter(self, crd: Object) -> WebhookConverter | None:
        strategy = (crd["spec"].get("conversion") or {}).get("strategy")
        if strategy != "Webhook" or self._webhooks is None:
            return None
        return WebhookConverter(self._webhooks, crd)

    def _conflict(self, crd: Object) -> str | None:
        """Why the names cannot be accepted (another definition of the group holds one of
        them, as accepted earlier), or None."""
        name, group = meta.name_of(crd), crd["spec"].get("group")
        mine = _claimed(accepted_names(crd))
        for other_name, (other_group, theirs) in self._accepted.items():
            if other_name != name and other_group == group and mine & theirs:
                return f'"{sorted(mine & theirs)[0]}" is already in use'
        self._accepted[name] = (group, mine)
        return None

    async def _write_status(self, crd: Object, conflict: str | None, terminating: bool) -> None:
        status = dict(crd.get("status") or {})
        wanted = [
            _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found")
            if conflict is None
            else _condition("NamesAccepted", "False", "NameConflict", conflict),
            _condition("Established", "True", "InitialNamesAccepted",
                       "the initial names have been accepted")
            if conflict is None
            else _condition("Established", "False", "NotAccepted", "not all names are accepted"),
        ]  # fmt: skip
        if terminating:
            wanted.append(_condition("Terminating", "True", "InstanceDeletionInProgress",
                                     "CustomResource deletion is in progress"))  # fmt: skip
        conditions = _with_transition_times(status.get("conditions") or [], wanted)
        stored = list(status.get("storedVersions") or [])
        if storage_version(crd) and storage_version(crd) not in stored:
            stored.append(storage_version(crd))
        new = {
            **status,
            "acceptedNames": accepted_names(crd) if conflict is None else status.get(
                "acceptedNames", {"plural": "", "kind": ""}
            ),
            "conditions": conditions,
            "storedVersions": stored,
        }  # fmt: skip
        if new == crd.get("status"):
            return
        with contextlib.suppress(errors.APIError):  # changed meanwhile: its event comes next
            await self._registry.update(
                self._kind, "", meta.name_of(crd), {**crd, "status": new}, subresource="status"
            )

    # -- deleting ------------------------------------------------------------------------

    async def _clean_up(self, name: str) -> None:
        """Delete the definition's objects, then let the definition go."""
        while True:
            crd = self._crds.get(name)
            if crd is None:
                return
            stored = next(v for v in crd["spec"]["versions"] if v.get("storage"))
            kind = CustomResourceKind(crd, stored, terminating=True)
            try:
                left = (await self._registry.list(kind, None, ListOptions())).items
                for obj in left:
                    if not obj["metadata"].get("deletionTimestamp"):
                        with contextlib.suppress(errors.APIError):
                            await self._registry.delete(
                                kind, meta.namespace_of(obj), meta.name_of(obj), DeleteOptions()
                            )
                if not left:
                    finalizers = [
                        f for f in crd["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER
                    ]
                    updated = meta.clone(crd)
                    updated["metadata"]["finalizers"] = finalizers
                    await self._registry.update(self._kind, "", name, updated)
                    return
            except errors.APIError as e:
                if e.code == 404:
                    return
                log.warning("cleaning up after %s: %s", name, e.message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cleaning up after %s failed; trying again", name)
            await asyncio.sleep(CLEANUP_INTERVAL)


def _claimed(names: Object) -> set[str]:
    kind = str(names.get("kind", ""))
    return {kind, str(names.get("singular") or kind.lower()), *(names.get("shortNames") or ())}


def _age(crd: Object) -> tuple[str, str]:
    return (crd["metadata"].get("creationTimestamp", ""), meta.name_of(crd))


def _with_transition_times(old: list[Object], wanted: list[Object]) -> list[Object]:
    """The wanted conditions, keeping a condition's transition time while its status stays."""
    before = {c.get("type"): c for c in old if isinstance(c, dict)}
    result = []
    for condition in wanted:
        previous = before.get(condition["type"])
        if previous is not None and previous.get("status") == condition["status"]:
            when = previous.get("lastTransitionTime") or meta.now_rfc3339()
        else:
            when = meta.now_rfc3339()
        result.append({**condition, "lastTransitionTime": when})
    return result
