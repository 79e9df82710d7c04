"""Clusters across Docker hosts without Docker: the record, the routes it implies for nodes
and gateways, the gateway's VXLAN entries, and the checks on what users give."""

from __future__ import annotations

import contextlib
import json
import types

import docker.errors
import pytest

from ku7s.cluster.docker_hosts import free_subnet
from ku7s.cluster.engines import ClusterEngines
from ku7s.cluster.providers.node_spec import NodeContainer
from ku7s.cluster.providers.privileges import Capabilities
from ku7s.cluster.providers.remote_docker import parse_docker_host
from ku7s.errors import NotFoundError, UserInputError
from ku7s.pod_network.docker_hosts import (
    VXLAN_MTU,
    DockerHost,
    dump_hosts,
    host_of,
    hosts_from_configmaps,
    next_vtep,
    parse_hosts,
)
from ku7s.pod_network.routes import Route, gateway_routes, wanted_routes
from node_image.pod_network.gateway import Overlay
from tests.unit.test_cli import run

HERE = DockerHost("local", "", "172.21.0.0/16", "172.21.0.9", "100.64.77.1", "10.0.0.1", 32769)
THERE = DockerHost(
    "b", "ssh://root@b", "172.16.0.0/16", "172.16.0.2", "100.64.77.2", "10.0.0.2", 40000,
    identity="/k", fingerprint="SHA256:x",
)  # fmt: skip


def node(name: str, cidr: str, address: str) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr},
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }


NODES = [
    node("a1", "10.244.0.0/24", "172.21.0.3"),
    node("a2", "10.244.1.0/24", "172.21.0.4"),
    node("b1", "10.244.2.0/24", "172.16.0.3"),
    node("machine", "10.244.3.0/24", "192.168.5.5"),  # joined over SSH: on no host's network
]


def test_the_record_round_trips_and_places_addresses():
    configmap = {"metadata": {"name": "ku7s-docker-hosts"}, "data": {}}
    configmap["data"]["hosts.json"] = dump_hosts([HERE, THERE])
    hosts = hosts_from_configmaps([{"metadata": {"name": "other"}}, configmap])
    assert hosts == [HERE, THERE] == parse_hosts(dump_hosts(hosts))
    assert host_of("172.16.0.3", hosts) == THERE and host_of("192.168.5.5", hosts) is None
    assert THERE.mac == "02:77:64:40:4d:02"
    assert next_vtep(hosts) == "100.64.77.3" and next_vtep([]) == "100.64.77.1"
    broken = {"metadata": {"name": "ku7s-docker-hosts"}, "data": {"hosts.json": "{"}}
    assert hosts_from_configmaps([broken]) == []


def test_nodes_route_other_hosts_via_their_own_gateway():
    routes = wanted_routes(NODES, "a1", [HERE, THERE])
    assert routes == {
        "10.244.1.0/24": Route("172.21.0.4"),  # same host: straight to the node
        "10.244.2.0/24": Route("172.21.0.9"),  # other host: via this host's gateway
        "10.244.3.0/24": Route("192.168.5.5"),  # an SSH machine, as before
        "172.16.0.0/16": Route("172.21.0.9"),  # the other host's nodes themselves
    }
    # On the other host, the same through its gateway; the control plane (no Node of its
    # own) places itself by the address it is given.
    assert wanted_routes(NODES, "b1", [HERE, THERE])["10.244.0.0/24"] == Route("172.16.0.2")
    plane = wanted_routes(NODES, "cp", [HERE, THERE], own_address="172.21.0.2")
    assert plane["10.244.2.0/24"] == Route("172.21.0.9")
    # One host only: every pod CIDR via its node, no other route.
    assert wanted_routes(NODES, "a1") == {
        "10.244.1.0/24": Route("172.21.0.4"),
        "10.244.2.0/24": Route("172.16.0.3"),
        "10.244.3.0/24": Route("192.168.5.5"),
    }


def test_gateways_route_over_the_overlay():
    assert gateway_routes(NODES, "local", [HERE, THERE]) == {
        "10.244.0.0/24": Route("172.21.0.3"),
        "10.244.1.0/24": Route("172.21.0.4"),
        "10.244.2.0/24": Route("100.64.77.2", "ku7s-vx"),
        "172.16.0.0/16": Route("100.64.77.2", "ku7s-vx"),
    }
    assert gateway_routes(NODES, "gone", [HERE, THERE]) == {}


async def test_the_gateway_keeps_one_forwarding_entry_per_other_host():
    calls: list[tuple[str, ...]] = []
    stale = {"mac": "02:77:64:40:4d:09"}
    offloaded: list[str] = []

    async def ip(*args: str) -> str:
        calls.append(("ip", *args))
        if args[:3] == ("-j", "link", "show"):
            return json.dumps([{"ifname": "eth0"}])
        if args[:2] == ("-j", "neigh"):
            return json.dumps([{"dst": "100.64.77.9", "lladdr": stale["mac"]}])
        return ""

    async def bridge(*args: str) -> str:
        calls.append(("bridge", *args))
        return json.dumps([stale, {"mac": "33:33:00:00:00:01"}]) if args[0] == "-j" else ""

    reported: list[str] = []

    async def report(address: str) -> None:
        reported.append(address)

    overlay = Overlay(
        "local", ip, bridge, offloaded.append, address="172.21.0.7", report_address=report
    )
    await overlay.sync([HERE, THERE])
    assert reported == ["172.21.0.7"]  # restarted elsewhere: the record must follow
    lines = [" ".join(c) for c in calls]
    assert "ip link add ku7s-vx type vxlan id 77 dstport 4789 nolearning noudpcsum" in lines
    assert offloaded == ["ku7s-vx"]
    assert "ip addr replace 100.64.77.1/32 dev ku7s-vx" in lines
    assert "bridge fdb replace 02:77:64:40:4d:02 dev ku7s-vx dst 10.0.0.2 port 40000" in lines
    assert (
        "ip neigh replace 100.64.77.2 lladdr 02:77:64:40:4d:02 dev ku7s-vx nud permanent" in lines
    )
    assert "bridge fdb del 02:77:64:40:4d:09 dev ku7s-vx" in lines  # a host that left
    assert "ip neigh del 100.64.77.9 dev ku7s-vx" in lines
    assert not any("33:33:00:00:00:01" in line and " del " in line for line in lines)


def test_each_host_gets_a_subnet_clear_of_every_network():
    assert free_subnet(["172.17.0.0/16", "172.16.0.0/16"]) == "172.18.0.0/16"
    with pytest.raises(UserInputError, match="no /16"):
        free_subnet(["172.16.0.0/12"])


@pytest.mark.parametrize(
    ("url", "target"),
    [("ssh://host", "root@host:22"), ("ssh://me@10.0.0.5:2222", "me@10.0.0.5:2222")],
)
def test_docker_hosts_are_ssh_urls(url, target):
    assert str(parse_docker_host(url)) == target


@pytest.mark.parametrize("url", ["tcp://host:2375", "host", "ssh://", "ssh://a/b"])
def test_other_docker_hosts_are_refused(url):
    with pytest.raises(UserInputError, match="expected ssh://"):
        parse_docker_host(url)


def test_the_cli_checks_docker_host_flags_before_docker():
    code, _, err = run("create", "node", "--docker-host", "tcp://h:2375")
    assert code == 1 and "invalid --docker-host" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("create", "node", "--identity", "/k")
    assert code == 1 and "need --provider ssh or --docker-host" in err


def test_privileges_follow_the_engine_hosts_capabilities():
    full = Capabilities.parse("Name: x\nCapBnd:\t000001ffffffffff\n", "40\n")
    assert full.allow_privileged and full.missing == []
    lacking = Capabilities.parse("CapBnd:\t000001fffeffffff\n", "40")
    assert not lacking.allow_privileged and lacking.missing == ["SYS_RESOURCE"]
    assert Capabilities.parse("", "").missing == ["SYS_RESOURCE"]


async def test_a_gateway_in_step_leaves_its_overlay_device_alone():
    """Setting the device's address, even to the same one, flushes its neighbours: the other
    gateways would be unreachable until the next entries went in (lost packets every sync)."""
    calls: list[tuple[str, ...]] = []
    device = {"ifname": "ku7s-vx", "address": HERE.mac, "mtu": VXLAN_MTU, "flags": ["UP"]}

    async def ip(*args: str) -> str:
        calls.append(args)
        return json.dumps([device]) if args[:3] == ("-j", "link", "show") else "[]"

    async def bridge(*args: str) -> str:
        return "[]"

    await Overlay("local", ip, bridge, lambda _: None).sync([HERE, THERE])
    assert not [c for c in calls if c[:1] == ("link",)]
    device["flags"] = ["BROADCAST"]  # down: brought up again
    await Overlay("local", ip, bridge, lambda _: None).sync([HERE, THERE])
    assert [c for c in calls if c[:1] == ("link",)] == [
        ("link", "set", "ku7s-vx", "address", HERE.mac, "mtu", str(VXLAN_MTU), "up")
    ]


class _Containers:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.containers = self  # as docker.DockerClient.containers

    def get(self, name: str):
        if name not in self.names:
            raise docker.errors.NotFound(name)
        return types.SimpleNamespace(name=name, status="running")


class _Provider:
    def __init__(self, names: list[str]) -> None:
        self.client = _Containers(names)

    def list_nodes(self, cluster: str) -> list[NodeContainer]:
        return [NodeContainer(n, cluster, "worker", "running") for n in self.client.names]

    def containers_with_role(self, cluster: str, role: str) -> dict[str, dict[str, str]]:
        return {}  # no hollow nodes


def test_cluster_engines_reach_nodes_on_other_hosts_over_one_connection_each():
    local = _Provider(["dev-control-plane", "dev-worker"])
    remote = _Provider(["dev-worker2"])
    opened: list[str] = []
    closed: list[str] = []

    @contextlib.contextmanager
    def open_engine(host: DockerHost):
        opened.append(host.name)
        yield types.SimpleNamespace(provider=remote)
        closed.append(host.name)

    lookups: list[str] = []

    def other_hosts(provider, cluster):
        lookups.append(cluster)
        return {"dev-worker2": "b"}, [HERE, THERE]

    engines = ClusterEngines(
        local,  # type: ignore[arg-type]
        "dev",
        other_hosts=other_hosts,
        open_engine=open_engine,  # type: ignore[arg-type]
    )
    assert engines.node_names() == ["dev-control-plane", "dev-worker", "dev-worker2"]
    assert engines.container("dev-worker").name == "dev-worker" and opened == []
    assert engines.container("dev-worker2").name == "dev-worker2"
    assert engines.find_node("dev-worker2").role == "worker"
    assert engines.host_of("dev-worker2") == "b" and engines.host_of("dev-worker") == ""
    assert opened == ["b"] and lookups == ["dev"]  # one connection, one lookup
    with pytest.raises(NotFoundError, match="no node named"):
        engines.container("dev-worker9")
    engines.close()
    assert closed == ["b"]
