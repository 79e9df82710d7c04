"""The node's network policy agent: follows pods, namespaces and NetworkPolicies and, after
each burst of changes, renders this node's policy rules and applies them in one
``iptables-restore`` (nothing when they are unchanged; everything again at each resync,
repairing what someone removed). It takes its rules away when it stops.

Endpoints of a Service that are not pods (the cluster DNS, which runs beside the control
plane) stand in as pods of the Service's namespace with the labels of the pods they stand
for, so a policy that lets pods reach kube-dns in kube-system does what it says.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry

from ku7s.api import meta
from ku7s.api.endpoint_slices import STAND_IN_POD_LABELS, service_key
from ku7s.client.informer import Informer, InformerFactory
from node_image.kube_proxy.iptables import IPTables
from node_image.kube_proxy.sync_loop import sync_loop
from node_image.network_policy.metrics import PolicyMetrics
from node_image.network_policy.rules import (
    JUMP,
    OWN_PREFIXES,
    PolicyPod,
    render,
)

Object = dict[str, Any]

log = logging.getLogger("network-policy")


def policy_pod(pod: Object) -> PolicyPod | None:
    """A pod as policies see it; None for pods with no address of their own."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    ips = tuple(i["ip"] for i in status.get("podIPs") or [] if i.get("ip"))
    if not ips and status.get("podIP"):
        ips = (status["podIP"],)
    if not ips:
        return None
    named: dict[str, tuple[int, str]] = {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for port in container.get("ports") or []:
            if port.get("name"):
                named[port["name"]] = (int(port["containerPort"]), port.get("protocol") or "TCP")
    return PolicyPod(
        meta.namespace_of(pod),
        meta.name_of(pod),
        spec.get("nodeName", ""),
        ips,
        dict(meta.labels_of(pod)),
        named,
    )


def stand_in_labels(service: Object) -> dict[str, str]:
    """The labels of the pods a Service's non-pod endpoints stand for: its selector's, or
    those its annotation names (a selectorless Service of the control plane's)."""
    selector = (service.get("spec") or {}).get("selector")
    if selector:
        return dict(selector)
    try:
        labels = json.loads(meta.annotations_of(service).get(STAND_IN_POD_LABELS, "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def stand_ins(service: Object, slices: list[Object]) -> list[PolicyPod]:
    """The endpoints of a Service that are no pod, as pods of its namespace."""
    labels = stand_in_labels(service)
    if not labels:
        return []
    found = []
    for endpoint_slice in slices:
        named = {
            p["name"]: (int(p["port"]), p.get("protocol") or "TCP")
            for p in endpoint_slice.get("ports") or []
            if p.get("name") and p.get("port")
        }
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("targetRef") or {}).get("kind") == "Pod":
                continue
            found.append(
                PolicyPod(
                    meta.namespace_of(service),
                    f"{meta.name_of(service)}-endpoint",
                    "",
                    tuple(endpoint.get("addresses") or []),
                    labels,
                    named,
                )
            )
    return found


class NetworkPolicyAgent:
    def __init__(
        self,
        informers: InformerFactory,
        iptables: IPTables,
        node_name: str,
        *,
        min_sync_interval: float = 0.02,
        resync_period: float = 30.0,
        metrics: PolicyMetrics | None = None,
    ) -> None:
        self.pods: Informer = informers.informer("/api/v1/pods")
        self.namespaces: Informer = informers.informer("/api/v1/namespaces")
        self.policies: Informer = informers.informer("/apis/networking.k8s.io/v1/networkpolicies")
        self.services: Informer = informers.informer("/api/v1/services")
        self.slices: Informer = informers.informer("/apis/discovery.k8s.io/v1/endpointslices")
        self.slices.add_index("service", service_key)
        self._iptables = iptables
        self._node = node_name
        self._min_interval = min_sync_interval
        self._resync = resync_period
        self._changed = asyncio.Event()
        self._chains: set[str] = set()
        self._applied = ""
        self.last_sync_seconds = 0.0
        self.metrics = metrics or PolicyMetrics(CollectorRegistry())
        for informer in (self.pods, self.namespaces, self.policies, self.slices):
            informer.on_change(lambda *_: self._changed.set())

    def view(self) -> tuple[list[PolicyPod], dict[str, dict[str, str]]]:
        pods = [p for p in map(policy_pod, self.pods.list()) if p is not None]
        for service in self.services.list():
            key = f"{meta.namespace_of(service)}/{meta.name_of(service)}"
            pods += stand_ins(service, self.slices.by_index("service", key))
        namespaces = {meta.name_of(n): dict(meta.labels_of(n)) for n in self.namespaces.list()}
        return pods, namespaces

    async def sync(self, *, force: bool = False) -> bool:
        """Apply this node's rules; whether anything was written."""
        started = time.monotonic()
        policies = self.policies.list()
        # Without policies nothing is guarded: no need to look at every pod.
        pods, namespaces = self.view() if policies else ([], {})
        rules = render(policies, pods, namespaces, self._node)
        stale = sorted(self._chains - set(rules.chains))
        text = rules.restore_input(stale)
        if text == self._applied and not force:
            return False
        await self._iptables.restore(text)
        await self._iptables.ensure_first("filter", "FORWARD", JUMP)
        self._chains, self._applied = set(rules.chains), text
        self.last_sync_seconds = time.monotonic() - started
        self.metrics.synced(self.last_sync_seconds, rules.chains, len(rules.lines))
        return True

    async def run(self, stop: asyncio.Event) -> None:
        self._chains = await self._iptables.own_chains("filter", OWN_PREFIXES)
        informers = (self.pods, self.namespaces, self.policies, self.services, self.slices)
        await asyncio.gather(*(i.synced.wait() for i in informers))
        try:
            await sync_loop(
                lambda full: self.sync(force=full),
                self._changed,
                stop,
                resync=self._resync,
                settle=self._min_interval,
                on_failure=lambda _: self.metrics.restore_failures.inc(),
            )
        finally:
            await self.clean_up()

    async def clean_up(self) -> None:
        await self._iptables.remove("filter", "FORWARD", JUMP)
        chains = sorted(await self._iptables.own_chains("filter", OWN_PREFIXES))
        text = "*filter\n" + "".join(f":{c} - [0:0]\n" for c in chains)
        text += "".join(f"-X {c}\n" for c in chains) + "COMMIT\n"
        await self._iptables.restore(text)
        self._chains, self._applied = set(), ""
        log.info("removed the network policy rules")
