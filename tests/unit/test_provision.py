"""How a node container is set up, worked out without an engine: workers get what nested
containerd needs (privileged, or every capability the host has with /proc unmasked),
the control plane only NET_ADMIN, and the API server's port is published first."""

from __future__ import annotations

from ku7s.cluster.providers.node_spec import API_SERVER_PORT, NodeSpec
from ku7s.cluster.providers.privileges import Capabilities
from ku7s.cluster.providers.provision import provision

ALL_BUT_SYS_RESOURCE = Capabilities(((1 << 41) - 1) & ~(1 << 24), 40)


def spec(role: str, **extra) -> NodeSpec:
    return NodeSpec(name=f"c-{role}", cluster="c", role=role, image="ku7s/node",
                    network="ku7s-c", env={}, **extra)  # fmt: skip


def test_a_worker_without_privileged_gets_every_capability_the_host_has():
    worker = provision(spec("worker", volume="c-worker-containerd", memory_bytes=1 << 30),
                       privileged=False, capabilities=ALL_BUT_SYS_RESOURCE)  # fmt: skip
    assert worker.labels == {"io.ku7s.cluster": "c", "io.ku7s.role": "worker"}
    assert worker.host["cap_add"] == ["ALL"] and worker.host["cap_drop"] == ["SYS_RESOURCE"]
    assert worker.unmasked_paths and "privileged" not in worker.host
    assert worker.binds["/sys/fs/cgroup"]["mode"] == "rw"
    assert worker.binds["c-worker-containerd"]["bind"] == "/var/lib/containerd"
    assert worker.host["mem_limit"] == worker.host["memswap_limit"] == 1 << 30
    privileged = provision(spec("worker"), privileged=True, capabilities=ALL_BUT_SYS_RESOURCE)
    assert privileged.host["privileged"] is True and not privileged.unmasked_paths


def test_the_control_plane_publishes_the_api_server_first():
    published = ((30080, "TCP", "127.0.0.1", 8080), (API_SERVER_PORT, "TCP", "0.0.0.0", 7000))
    control_plane = provision(spec("control-plane", api_server_host_port=6550,
                                   published=published),
                              privileged=False, capabilities=ALL_BUT_SYS_RESOURCE)  # fmt: skip
    assert control_plane.host["cap_add"] == ["NET_ADMIN"] and not control_plane.unmasked_paths
    assert control_plane.host["port_bindings"][f"{API_SERVER_PORT}/tcp"] == [
        ("127.0.0.1", 6550), ("0.0.0.0", 7000)]  # fmt: skip
    assert control_plane.exposed == [(API_SERVER_PORT, "tcp"), (30080, "tcp")]
