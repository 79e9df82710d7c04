"""Hollow nodes: many simulated nodes per container (``<cluster>-hollow-<n>``, up to
HOLLOW_BATCH each), one asyncio process that speaks the real node protocol for all of them.
The container's labels say how many it runs; its nodes are ``<container>-<i>``."""

from __future__ import annotations

import contextlib
import ipaddress
import json

from ku7s.cluster.access import admin_kubeconfig, forget_node, node_names, wait_until_ready
from ku7s.cluster.actions.nodes import start_containers
from ku7s.cluster.config import HOLLOW_CAPACITY, NODE_CIDR_MASK, HollowGroup, NodeConfig
from ku7s.cluster.node_specs import PKI_DIR, TOKENS_PATH
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import NodeSpec
from ku7s.errors import Ku7sError, NotFoundError, UserInputError
from ku7s.names import (
    CLUSTER_ENV,
    HOLLOW,
    HOLLOW_BATCH,
    HOLLOW_NODE_LABEL,
    control_plane_name,
    hollow_container_name,
    hollow_container_of,
    hollow_node_names,
    network_name,
)

#: On a hollow container: how many nodes it runs.
COUNT_LABEL = "io.ku7s.hollow-count"
CONTROL = ["python3", "-m", "node_image.hollow.control"]
#: What a hollow node costs the machine, with its share of the control plane and a few
#: pods (measured: 0.26 MiB in its container, ~0.35 MiB in the control plane), rounded up.
NODE_MIB = 1.0
#: What each hollow container costs before its first node (its Python process).
CONTAINER_MIB = 40.0
#: What is left to everything else on the Docker host.
RESERVE_MIB = 512.0


def hollow_spec(
    cluster: str, name: str, count: int, options: HollowGroup, image: str, ca_pem: bytes,
    token: str,
) -> NodeSpec:  # fmt: skip
    command = [
        "python3", "-m", "node_image.hollow", "--prefix", f"{name}-", "--count", str(count),
        "--labels", ",".join(f"{k}={v}" for k, v in options.labels.items()),
        "--capacity", options.capacity,
    ]  # fmt: skip
    if options.untainted:
        command.append("--untainted")
    return NodeSpec(
        name=name,
        cluster=cluster,
        role=HOLLOW,
        image=image,
        network=network_name(cluster),
        env={
            "KU7S_ROLE": HOLLOW,
            CLUSTER_ENV: cluster,
            "KU7S_CONTROL_PLANE": control_plane_name(cluster),
            "KU7S_BOOTSTRAP_TOKEN": token,
        },
        files={f"{PKI_DIR}/ca.crt": ca_pem},
        entrypoint=["/usr/bin/tini", "-g", "--", *command],
        labels={COUNT_LABEL: str(count)},
    )


def check_capacity(text: str) -> None:
    """``--capacity``: known resources with Kubernetes quantities, or a one-line error."""
    from ku7s.api.quantity import QuantityError, parse_quantity

    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        if key not in HOLLOW_CAPACITY:
            raise UserInputError(
                f"--capacity: unknown resource {key!r}; known: {', '.join(HOLLOW_CAPACITY)}"
            )
        try:
            parse_quantity(value)
        except QuantityError:
            raise UserInputError(f"--capacity: {key}={value!r} is not a quantity") from None


def batches(count: int, taken: set[int]) -> list[tuple[int, int]]:
    """(container index, node count) for count new nodes, in containers of at most
    HOLLOW_BATCH, numbered from the first free index."""
    if count < 1:
        raise UserInputError(f"--count must be at least 1, not {count}")
    result, index = [], 1
    while count > 0:
        while index in taken:
            index += 1
        size = min(count, HOLLOW_BATCH)
        result.append((index, size))
        count -= size
        index += 1
    return result


class HollowNodes:
    def __init__(self, local: DockerProvider, cluster: str, *, image: str = "") -> None:
        self._local, self._cluster, self._image = local, cluster, image

    def containers(self) -> dict[str, int]:
        """Hollow container -> how many nodes it runs."""
        return {
            name: int(labels.get(COUNT_LABEL, "0"))
            for name, labels in self._local.containers_with_role(self._cluster, HOLLOW).items()
        }

    def nodes(self) -> dict[str, str]:
        """The hollow Nodes whose container is there (one deleted alone is not, though its
        container still holds it, stopped)."""
        containers = self.containers()
        if not containers:
            return {}
        config = admin_kubeconfig(self._local, self._cluster)
        return {
            node: HOLLOW
            for node in node_names(config, HOLLOW_NODE_LABEL)
            if hollow_container_of(node) in containers
        }

    def add(self, node: NodeConfig, *, wait: float) -> str:
        return self.add_many(HollowGroup(labels=dict(node.labels)), wait=wait)[0]

    def add_many(self, options: HollowGroup, *, wait: float) -> list[str]:
        """Start the containers for options.count more hollow nodes; return their names
        (once all are Ready, if wait > 0)."""
        control_plane = control_plane_name(self._cluster)
        if not self._local.container_exists(control_plane):
            raise NotFoundError(f'no cluster named "{self._cluster}"')
        self._check_room(control_plane, options.count)
        self._check_memory(control_plane, options.count)
        ca_pem = self._local.read_file(control_plane, f"{PKI_DIR}/ca.crt")
        token = self._local.read_file(control_plane, TOKENS_PATH).decode().split()[0]
        taken = {int(name.rsplit("-", 1)[1]) for name in self.containers()}
        specs = [
            hollow_spec(
                self._cluster,
                hollow_container_name(self._cluster, index),
                size,
                options,
                self._image,
                ca_pem,
                token,
            )
            for index, size in batches(options.count, taken)
        ]
        start_containers(self._local, specs)
        names = [
            node
            for spec in specs
            for node in hollow_node_names(spec.name, int(spec.labels[COUNT_LABEL]))
        ]
        if wait > 0:
            wait_until_ready(
                admin_kubeconfig(self._local, self._cluster), names[0], wait, *names[1:]
            )
        return names

    def _check_room(self, control_plane: str, count: int) -> None:
        """Every node takes a /24 of the pod subnet: refuse what would not fit, at once."""
        subnet = self._local.container_env(control_plane).get("KU7S_POD_SUBNET", "")
        if not subnet:
            return
        blocks = 2 ** max(0, NODE_CIDR_MASK - ipaddress.ip_network(subnet).prefixlen)
        room = blocks - len(node_names(admin_kubeconfig(self._local, self._cluster)))
        if count > room:
            raise UserInputError(
                f"{count} more nodes do not fit: the pod subnet {subnet} has room for "
                f"{max(room, 0)} (a /{NODE_CIDR_MASK} each); create the cluster with a larger "
                f"networking.podSubnet (a /14 holds 1,024 nodes)"
            )

    def _check_memory(self, control_plane: str, count: int) -> None:
        """Refuse, at once, more nodes than the Docker host's free memory holds."""
        meminfo = self._local.exec(control_plane, ["cat", "/proc/meminfo"])
        available = memory_available_mib(meminfo)
        if available is None:
            return
        fits = hollow_nodes_fitting(available)
        if count > fits:
            raise UserInputError(
                f"{count} more hollow nodes do not fit in memory: the Docker host has "
                f"{available:.0f} MiB available, room for {fits} (about {NODE_MIB:g} MiB "
                f"each, keeping {RESERVE_MIB:.0f} MiB free)"
            )

    def set_state(self, names: list[str], state: str) -> None:
        """running, paused (silent: no heartbeats, as a frozen node), partitioned (silent
        as a node cut off) or stopped (disconnected), through each container's control
        socket."""
        self._control(names, [state])

    def set_latency(self, names: list[str], delay: float, jitter: float, direction: str) -> None:
        """Delay what the nodes send (to), receive (from) or both; a delay of 0 ends it."""
        self._control(names, ["latency", f"{delay:g}", f"{jitter:g}", direction])

    def _control(self, names: list[str], request: list[str]) -> None:
        by_container: dict[str, list[str]] = {}
        for name in names:
            by_container.setdefault(hollow_container_of(name), []).append(name)
        for container, members in by_container.items():
            answer = self._local.exec(container, [*CONTROL, *request, *members])
            if "error" in json.loads(answer or '{"error": "no answer"}'):
                raise Ku7sError(f"hollow nodes of {container}: {answer.strip()}")

    def delete(self, name: str) -> None:
        """A hollow container goes with all its nodes; a single hollow node is stopped for
        good in its container (it no longer connects) and forgotten."""
        containers = self.containers()
        if name in containers:
            self._local.remove_containers([name])
            forgotten = hollow_node_names(name, containers[name])
        else:
            container = hollow_container_of(name)
            if name not in hollow_node_names(container, containers.get(container, 0)):
                raise NotFoundError(f'no hollow node named "{name}"')
            self.set_state([name], "stopped")
            forgotten = [name]
        with contextlib.suppress(NotFoundError):  # the control plane went first
            forget_node(admin_kubeconfig(self._local, self._cluster), *forgotten)


def memory_available_mib(meminfo: str) -> float | None:
    """MemAvailable from /proc/meminfo, in MiB; None when it is not there."""
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return None


def hollow_nodes_fitting(available_mib: float) -> int:
    per_node = NODE_MIB + CONTAINER_MIB / HOLLOW_BATCH
    return max(0, int((available_mib - RESERVE_MIB - CONTAINER_MIB) / per_node))
