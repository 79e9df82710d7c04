"""The mock cloud's decisions: zones, provider IDs, vanished instances, which nodes a load
balancer sends to, and the proxy's choice of backend."""

from __future__ import annotations

import asyncio
import socket

from control_plane.cloud.docker_cloud import LoadBalancer
from control_plane.cloud.lb_proxy import Backends, Listener, UDPListener
from control_plane.cloud.node_controller import CloudNodeController, Topology, pick_zone
from control_plane.cloud.service_controller import (
    FINALIZER,
    CloudServiceController,
    backend_nodes,
    proxy_config,
)
from ku7s.cluster.access import initialized


class RecordingAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []

    async def patch(self, path, patch, content_type=None):
        self.calls.append(("patch", path, patch))
        return patch

    async def delete(self, path, params=None):
        self.calls.append(("delete", path, None))
        return {}


class FakeCloud:
    def __init__(self, instances=(), balancers=()) -> None:
        self.instances = set(instances)
        self.balancers = list(balancers)
        self.configs: dict[str, dict] = {}

    async def instance_exists(self, name: str) -> bool:
        return name in self.instances

    async def load_balancers(self):
        return list(self.balancers)

    async def ensure_load_balancer(self, uid, config):
        self.configs[uid] = config
        return "172.18.0.50"

    async def delete_load_balancer(self, name):
        self.balancers = [b for b in self.balancers if b.name != name]


def node(name, ready=True, zone=None, ip="172.18.0.2"):
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}],
        },
    }


def test_zones_fill_evenly_and_ids_name_the_cluster():
    topology = Topology("dev", "local", 3)
    assert topology.zone_names() == ["local-a", "local-b", "local-c"]
    assert pick_zone(topology, [node("a", zone="local-a"), node("b", zone="local-c")]) == "local-b"
    assert pick_zone(topology, []) == "local-a"
    assert topology.provider_id("dev-worker") == "ku7s://dev/dev-worker"


async def test_a_new_node_is_labelled_and_a_vanished_one_deleted():
    api = RecordingAPI()
    controller = CloudNodeController(api, FakeCloud({"w1"}), Topology("dev", zones=2))  # type: ignore[arg-type]
    controller.nodes._apply("ADDED", node("w0", zone="local-a"))
    controller.nodes._apply("ADDED", node("w1"))
    await controller.reconcile("w1")
    [(_, path, patch)] = api.calls
    assert path == "/api/v1/nodes/w1"
    assert patch["metadata"]["labels"]["topology.kubernetes.io/zone"] == "local-b"
    assert patch["spec"]["providerID"] == "ku7s://dev/w1"
    controller.nodes._apply("ADDED", node("gone", ready=False))
    await controller.reconcile("gone")
    assert api.calls[-1] == ("delete", "/api/v1/nodes/gone", None)
    controller.nodes._apply("MODIFIED", node("w1", ready=False))
    await controller.reconcile("w1")  # NotReady but its container is there: kept
    assert api.calls[-1][0] == "patch"
    machine = node("vm", ready=False)
    machine["metadata"]["labels"]["ku7s.dev/provider"] = "ssh"
    controller.nodes._apply("ADDED", machine)
    calls = len(api.calls)
    await controller.reconcile("vm")  # joined over SSH: no container, and not this cloud's
    assert len(api.calls) == calls
    # What `create` waits for besides Ready: this cloud's nodes initialized, others as they are.
    assert not initialized(node("w1")) and initialized(machine)
    assert initialized({**node("w1"), "spec": {"providerID": "ku7s://dev/w1"}})


def lb_service(**spec):
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-1", "resourceVersion": "3"},
        "spec": {
            "type": "LoadBalancer",
            "ports": [
                {"port": 80, "nodePort": 31000, "protocol": "TCP"},
                {"port": 53, "nodePort": 31001, "protocol": "UDP"},
            ],
            **spec,
        },
    }


def test_backends_are_ready_nodes_or_only_those_with_local_endpoints():
    nodes = [node("a", ip="172.18.0.3"), node("b", ip="172.18.0.2"), node("c", ready=False)]
    elsewhere = node("d", ip="172.16.0.3")  # on another Docker host: out of the LB's reach
    elsewhere["metadata"]["labels"]["ku7s.dev/docker-host"] = "b"
    assert backend_nodes(lb_service(), [*nodes, elsewhere], []) == ["172.18.0.2", "172.18.0.3"]
    slices = [{"endpoints": [{"nodeName": "a", "conditions": {"ready": True}}]}]
    local = lb_service(externalTrafficPolicy="Local")
    assert backend_nodes(local, nodes, slices) == ["172.18.0.3"]
    assert proxy_config(lb_service(), ["172.18.0.2"]) == {
        "ports": [
            {"port": 80, "nodePort": 31000, "protocol": "TCP"},
            {"port": 53, "nodePort": 31001, "protocol": "UDP"},
        ],
        "backends": ["172.18.0.2"],
    }


async def test_a_load_balancer_is_made_then_released_when_the_type_changes():
    api = RecordingAPI()
    cloud = FakeCloud()
    controller = CloudServiceController(api, cloud)  # type: ignore[arg-type]
    controller.nodes._apply("ADDED", node("a"))
    controller.services._apply("ADDED", lb_service())
    await controller.reconcile("default/web")
    finalizer, status = api.calls
    assert finalizer[2]["metadata"]["finalizers"] == [FINALIZER]
    assert status[1].endswith("/web/status")
    assert status[2]["status"]["loadBalancer"]["ingress"] == [
        {"ip": "172.18.0.50", "ipMode": "VIP"}
    ]
    assert cloud.configs["svc-1"]["backends"] == ["172.18.0.2"]
    cloud.balancers = [LoadBalancer("dev-lb-svc-1", "svc-1", "172.18.0.50")]
    changed = lb_service(type="ClusterIP")
    changed["metadata"]["finalizers"] = [FINALIZER]
    changed["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.0.50"}]}}
    controller.services._apply("MODIFIED", changed)
    await controller.reconcile("default/web")
    assert cloud.balancers == []
    cleared, unfinalized = api.calls[2:]
    assert cleared[2] == {"status": {"loadBalancer": {"ingress": None}}}
    assert unfinalized[2]["metadata"]["finalizers"] is None


def test_the_proxy_rotates_and_skips_a_failed_node_for_a_while():
    backends = Backends()
    backends.addresses = ["a", "b", "c"]
    assert backends.candidates()[0] == "a" and backends.candidates()[0] == "b"
    backends.failed("c")
    assert backends.candidates() == ["a", "b", "c"]  # c only as a last resort
    assert backends.candidates()[-1] == "c"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(b"node:" + data, addr)


async def test_the_proxy_relays_tcp_and_udp_to_a_node_port_skipping_a_dead_node():
    loop = asyncio.get_running_loop()
    node_port = _free_port(socket.SOCK_STREAM)

    async def answer(reader, writer):
        writer.write(b"node:" + await reader.read(100))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", node_port)
    udp_node, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", node_port))
    backends = Backends()
    backends.addresses = ["127.0.0.2", "127.0.0.1"]  # nothing listens on .2
    tcp = Listener(_free_port(socket.SOCK_STREAM), node_port, backends)
    udp = UDPListener(_free_port(socket.SOCK_DGRAM), node_port, backends)
    await tcp.start()
    await udp.start()
    try:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
            writer.write(b"hi")
            writer.write_eof()
            assert await reader.read() == b"node:hi"
            writer.close()
        backends.addresses = ["127.0.0.1"]
        replies: asyncio.Queue[bytes] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                replies.put_nowait(data)

        client, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", udp.port))
        client.sendto(b"one")
        client.sendto(b"two")
        got = {await asyncio.wait_for(replies.get(), 2), await asyncio.wait_for(replies.get(), 2)}
        assert got == {b"node:one", b"node:two"}
        client.close()
    finally:
        tcp.close()
        udp.close()
        udp_node.close()
        server.close()
