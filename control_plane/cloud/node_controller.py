"""The cloud node controller: every Node gets its provider ID (``ku7s://<cluster>/<node>``),
an instance type, a region and a zone (nodes are spread over the configured number of zones,
each new node going to the zone with the fewest), and a Node whose container is gone is
deleted, as a cloud deletes the Node of a VM that no longer exists."""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ku7s.api import meta
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.names import HOLLOW_NODE_LABEL, PROVIDER_LABEL, hollow_container_of

Object = dict[str, Any]

log = logging.getLogger("cloud-node-controller")

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
INSTANCE_TYPE = "ku7s.container"
#: How often a NotReady node's container is looked for.
EXISTENCE_CHECK_SECONDS = 5.0


class Instances(Protocol):
    async def instance_exists(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Topology:
    cluster: str
    region: str = "local"
    zones: int = 1

    def zone_names(self) -> list[str]:
        return [f"{self.region}-{string.ascii_lowercase[i % 26]}" for i in range(self.zones)]

    def provider_id(self, node: str) -> str:
        return f"ku7s://{self.cluster}/{node}"


def pick_zone(topology: Topology, nodes: list[Object]) -> str:
    """The zone with the fewest nodes so far (the first of them on a tie)."""
    counts = dict.fromkeys(topology.zone_names(), 0)
    for node in nodes:
        zone = meta.labels_of(node).get(ZONE_LABEL)
        if zone in counts:
            counts[zone] += 1
    return min(counts, key=lambda z: (counts[z], z))


class CloudNodeController(Controller):
    name: ClassVar[str] = "cloud-node-controller"

    def __init__(
        self,
        client: APIClient,
        cloud: Instances,
        topology: Topology,
        informers: InformerFactory | None = None,
    ) -> None:
        # One worker: zones are handed out from what the cache says, one node at a time.
        super().__init__(client, informers, workers=1)
        self._cloud = cloud
        self._topology = topology
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.nodes.on_change(lambda _, node: self.queue.add(meta.name_of(node)))
        self.informers = [self.nodes]
        self._zones: dict[str, str] = {}

    async def reconcile(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            self._zones.pop(key, None)
            return
        if PROVIDER_LABEL in meta.labels_of(node):
            return  # not an instance of this cloud: a machine joined over SSH
        if not meta.is_node_ready(node):
            # A hollow node's instance is the container that runs it and its siblings.
            hollow = HOLLOW_NODE_LABEL in meta.labels_of(node)
            if not await self._cloud.instance_exists(hollow_container_of(key) if hollow else key):
                log.info("deleting node %s: its container is gone", key)
                try:
                    await self.client.delete(f"/api/v1/nodes/{key}")
                except APIStatusError as e:
                    if e.code != 404:
                        raise
                return
            self.queue.add_after(key, EXISTENCE_CHECK_SECONDS)
        await self._initialize(key, node)

    async def _initialize(self, name: str, node: Object) -> None:
        labels = meta.labels_of(node)
        zone = labels.get(ZONE_LABEL) or self._zones.get(name)
        if zone is None:
            others = [n for n in self.nodes.list() if meta.name_of(n) != name]
            others += [{"metadata": {"labels": {ZONE_LABEL: z}}} for z in self._zones.values()]
            zone = pick_zone(self._topology, others)
        wanted_labels = {
            ZONE_LABEL: zone,
            REGION_LABEL: self._topology.region,
            INSTANCE_TYPE_LABEL: INSTANCE_TYPE,
        }
        provider_id = self._topology.provider_id(name)
        if (node.get("spec") or {}).get("providerID") == provider_id and all(
            labels.get(k) == v for k, v in wanted_labels.items()
        ):
            return
        self._zones[name] = zone  # until the informer shows the label
        await self.client.patch(
            f"/api/v1/nodes/{name}",
            {"metadata": {"labels": wanted_labels}, "spec": {"providerID": provider_id}},
        )
        log.info("node %s: %s in zone %s", name, provider_id, zone)
