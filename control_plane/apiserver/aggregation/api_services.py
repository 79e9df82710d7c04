"""APIServices: which group-versions are handed to a Service, whether that Service is
available, and what it serves (for discovery), as kube-aggregator's registration and
availability controllers keep them.

Every built-in group-version gets a ``Local`` APIService at start (as upstream's
autoregistration makes them). An APIService with a service is checked when it changes and
then every few seconds: its Service, a ready endpoint, and an answer to
``GET /apis/<group>/<version>`` over TLS (checked against its caBundle, with the
front-proxy's client certificate). The outcome is its ``Available`` condition, with
upstream's reasons; the answer is kept as that group-version's discovery document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp

from control_plane.apiserver import errors
from control_plane.apiserver.aggregation.front_proxy import (
    GROUP_HEADER,
    USER_HEADER,
    FrontProxyCredentials,
)
from control_plane.apiserver.following import Mirror
from control_plane.apiserver.kinds.api_service import GROUP, available
from control_plane.apiserver.registry import Registry
from control_plane.apiserver.service_endpoints import (
    ServiceCallError,
    ServiceUnreachable,
    call_json,
    resolve,
)
from ku7s.api import meta

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]
#: How often an available / unavailable APIService is checked again.
RECHECK_AVAILABLE, RECHECK_UNAVAILABLE = 30.0, 2.0
CHECK_TIMEOUT = 5.0
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
#: Who the availability check and discovery say they are (upstream's aggregator).
AGGREGATOR_USER, AGGREGATOR_GROUP = "system:kube-aggregator", "system:masters"


def target_key(api_service: Object) -> tuple[str, str]:
    spec = api_service.get("spec") or {}
    return str(spec.get("group", "")), str(spec.get("version", ""))


class APIServices:
    def __init__(self, registry: Registry, credentials: FrontProxyCredentials) -> None:
        self.registry = registry
        self._kind = registry.kinds.get("apiservices", GROUP)
        self.credentials = credentials
        self._wake = asyncio.Event()
        self._mirror = Mirror(registry, [self._kind], why="aggregation", on_change=self._changed)
        #: (group, version) -> the APIService that hands it to a Service (None: not made yet);
        #: asked on every request under /apis, so kept rather than searched for.
        self._remote: dict[tuple[str, str], Object] | None = None
        #: (group, version) -> the last APIResourceList its service answered
        self._discovered: dict[tuple[str, str], Object] = {}
        #: name -> (the spec checked, when to check again)
        self._checked: dict[str, tuple[Object, float]] = {}
        self._session: aiohttp.ClientSession | None = None

    # -- what is handed over --------------------------------------------------------------

    def remote(self, group: str, version: str) -> Object | None:
        """The APIService that hands group/version to a Service, if one does."""
        if self._remote is None:
            self._remote = {target_key(a): a for a in self._mirror.objects["apiservices"].values()
                            if (a.get("spec") or {}).get("service")}  # fmt: skip
        return self._remote.get((group, version))

    def _changed(self) -> None:
        self._remote = None
        self._wake.set()

    def remote_group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for api_service in self._mirror.sorted("apiservices"):
            if (api_service.get("spec") or {}).get("service"):
                group, version = target_key(api_service)
                groups.setdefault(group, []).append(version)
        return groups

    def discovered(self, group: str, version: str) -> Object | None:
        """What the service said it serves, at its last successful check."""
        return self._discovered.get((group, version))

    # -- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        following = asyncio.create_task(self._mirror.run(stop))

        async def wake_on_stop() -> None:
            await stop.wait()
            self._wake.set()

        waking = asyncio.create_task(wake_on_stop())
        try:
            await self._mirror.wait_synced()
            await self._register_local()
            while not stop.is_set():
                await self._check_due()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
        finally:
            following.cancel()
            waking.cancel()
            await asyncio.gather(following, waking, return_exceptions=True)
            if self._session is not None:
                await self._session.close()

    async def wait_synced(self) -> None:
        await self._mirror.wait_synced()

    async def _register_local(self) -> None:
        """A Local APIService for each built-in group-version, as upstream has."""
        existing = self._mirror.objects["apiservices"]
        served = [("", "v1"), *((g, v) for g, vs in self.registry.kinds.group_versions().items()
                                for v in vs)]  # fmt: skip
        for i, (group, version) in enumerate(served):
            name = f"{version}.{group}"
            kinds = self.registry.kinds.in_group_version(group, version)
            if ("", name) in existing or any(getattr(k, "crd_name", None) for k in kinds):
                continue  # there already, or a custom resource's
            body = {
                "metadata": {"name": name, "labels": {AUTOMANAGED: "onstart"}},
                "spec": {"group": group, "version": version,
                         "groupPriorityMinimum": max(1, 18000 - 100 * i), "versionPriority": 15},
            }  # fmt: skip
            with contextlib.suppress(errors.APIError):
                await self.registry.create(self._kind, "", body)

    # -- availability ---------------------------------------------------------------------

    async def _check_due(self) -> None:
        now = asyncio.get_running_loop().time()
        for api_service in self._mirror.sorted("apiservices"):
            name = meta.name_of(api_service)
            spec = api_service.get("spec") or {}
            checked = self._checked.get(name)
            if checked is not None and checked[0] == spec and checked[1] > now:
                continue
            if not spec.get("service"):
                condition = ("True", "Local", "Local APIServices are always available")
                self._discovered.pop(target_key(api_service), None)
            else:
                condition = await self._check(api_service)
            again = RECHECK_AVAILABLE if condition[0] == "True" else RECHECK_UNAVAILABLE
            self._checked[name] = (spec, now + again)
            await self._write(api_service, condition)
        present = {name for _, name in self._mirror.objects["apiservices"]}
        for name in set(self._checked) - present:
            del self._checked[name]

    async def _check(self, api_service: Object) -> tuple[str, str, str]:
        spec = api_service["spec"]
        service = spec["service"]
        group, version = target_key(api_service)
        namespace, name = service.get("namespace", ""), service.get("name", "")
        try:
            address = await resolve(self.registry, namespace, name, int(service.get("port", 443)))
        except ServiceUnreachable as e:
            self._discovered.pop((group, version), None)
            messages = {
                "ServiceNotFound": f'service/{name} in "{namespace}" is not present',
                "ServicePortError": f'service/{name} in "{namespace}" is not listening on port '
                                    f"{service.get('port', 443)}",
                "MissingEndpoints": f'endpoints for service/{name} in "{namespace}" have no '
                                    "addresses",
            }  # fmt: skip
            return "False", e.reason, messages.get(e.reason, str(e))
        url = f"https://{address.ip}:{address.port}/apis/{group}/{version}"
        try:
            document = await self._discover(api_service, url, address.server_name)
        except DiscoveryFailed as e:
            self._discovered.pop((group, version), None)
            return "False", "FailedDiscoveryCheck", f"failing or missing response from {url}: {e}"
        self._discovered[(group, version)] = document
        return "True", "Passed", "all checks passed"

    async def _discover(self, api_service: Object, url: str, server_name: str) -> Object:
        spec = api_service["spec"]
        try:
            context = self.credentials.ssl_context(
                spec.get("caBundle") or "", verify=not spec.get("insecureSkipTLSVerify")
            )
        except ValueError as e:
            raise DiscoveryFailed(str(e)) from e
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            return await call_json(
                self._session, "GET", url, shown=f'Get "{url}"', context=context,
                server_name=server_name, timeout=CHECK_TIMEOUT,
                headers={USER_HEADER: AGGREGATOR_USER, GROUP_HEADER: AGGREGATOR_GROUP},
            )  # fmt: skip
        except ServiceCallError as e:
            raise DiscoveryFailed(str(e)) from e

    async def _write(self, api_service: Object, condition: tuple[str, str, str]) -> None:
        status, reason, message = condition
        before = available(api_service)
        if before is not None and (before.get("status"), before.get("reason"),
                                   before.get("message")) == condition:  # fmt: skip
            return
        when = meta.now_rfc3339()
        if before is not None and before.get("status") == status:
            when = before.get("lastTransitionTime") or when
        conditions = [c for c in (api_service.get("status") or {}).get("conditions") or []
                      if c.get("type") != "Available"]  # fmt: skip
        conditions.append({"type": "Available", "status": status, "reason": reason,
                           "message": message, "lastTransitionTime": when})  # fmt: skip
        updated = {**api_service, "status": {"conditions": conditions}}
        with contextlib.suppress(errors.APIError):  # changed meanwhile: checked again
            await self.registry.update(self._kind, "", meta.name_of(api_service), updated,
                                        subresource="status")  # fmt: skip


class DiscoveryFailed(Exception):
    """The service did not answer its discovery document usefully."""
