"""Bad input gets one line saying what is wrong, a non-zero exit, and leaves nothing behind."""

from __future__ import annotations

import socket

import pytest
import yaml

from ku7s.names import CLUSTER_LABEL
from tests.e2e.conftest import Cluster, run_ku7s, unique


def assert_one_error_line(result, *fragments: str, code: int = 1):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.stderr


def assert_nothing_left(provider, name: str):
    client = provider.client
    assert not client.containers.list(all=True, filters={"label": f"{CLUSTER_LABEL}={name}"})
    assert not client.volumes.list(filters={"label": f"{CLUSTER_LABEL}={name}"})
    assert not [n for n in client.networks.list(names=[f"ku7s-{name}"]) if n.name == f"ku7s-{name}"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Bad_Name", "invalid cluster name"),
        ("x" * 60, "at most 49 characters"),
        ("-dash", "invalid cluster name"),
    ],
)
def test_invalid_cluster_names(provider, node_image, tmp_path, name, fragment):
    result = run_ku7s("create", "cluster", "--name", name, env={"KUBECONFIG": str(tmp_path / "kc")})
    assert_one_error_line(result, fragment)
    assert_nothing_left(provider, name)


def test_invalid_node_name(provider):
    result = run_ku7s("delete", "node", "Not_A_Node")
    assert_one_error_line(result, "invalid node name")
    result = run_ku7s("delete", "node", unique("missing"))
    assert_one_error_line(result, "no node named")


def test_duplicate_cluster_name(cluster: Cluster, provider):
    before = {c.name for c in provider.client.containers.list(all=True)}
    result = run_ku7s("create", "cluster", "--name", cluster.name, env=cluster.env)
    assert_one_error_line(result, "already exists")
    assert {c.name for c in provider.client.containers.list(all=True)} == before
    assert cluster.node_ready()  # the existing cluster is untouched


def create_with_config(tmp_path, name: str, config: dict):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return run_ku7s(
        "create",
        "cluster",
        "--name",
        name,
        "--config",
        str(path),
        env={"KUBECONFIG": str(tmp_path / "kc")},
    )


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (
            {"kind": "Cluster", "apiVersion": "ku7s.dev/v1alpha1", "nodez": []},
            'unknown field "nodez"',
        ),
        (
            {
                "kind": "Cluster",
                "apiVersion": "ku7s.dev/v1alpha1",
                "nodes": [
                    {"role": "control-plane"},
                    {"role": "worker", "resources": {"memory": "lots"}},
                ],
            },
            "nodes[1].resources.memory",
        ),
        ({"kind": "Cluster", "apiVersion": "v1"}, "apiVersion"),
        (
            {
                "kind": "Cluster",
                "apiVersion": "ku7s.dev/v1alpha1",
                "networking": {"podSubnet": "300.1.0.0/16"},
            },
            "networking.podSubnet",
        ),
    ],
    ids=["unknown-field", "bad-memory", "bad-api-version", "bad-subnet"],
)
def test_invalid_config_files(provider, node_image, tmp_path, config, fragment):
    name = unique("badcfg")
    result = create_with_config(tmp_path, name, config)
    assert_one_error_line(result, fragment)
    assert_nothing_left(provider, name)


def test_busy_host_port(provider, node_image, tmp_path):
    name = unique("busy")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = {
            "kind": "Cluster",
            "apiVersion": "ku7s.dev/v1alpha1",
            "networking": {"apiServerPort": port},
        }
        result = create_with_config(tmp_path, name, config)
    assert_one_error_line(result, f"host port {port} is already in use")
    assert_nothing_left(provider, name)


def test_docker_not_reachable(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "KUBECONFIG": str(tmp_path / "kc")}
    for args in (("create", "cluster", "--name", unique("nodocker")), ("get", "clusters")):
        result = run_ku7s(*args, env=env)
        assert_one_error_line(result, "cannot reach the Docker engine")
    assert not (tmp_path / "kc").exists()


def test_unknown_flag_and_command():
    assert_one_error_line(run_ku7s("create", "cluster", "--frobnicate"), "--frobnicate", code=2)
    assert_one_error_line(run_ku7s("destroy"), "destroy", code=2)


def test_deleting_a_missing_cluster_is_not_an_error(tmp_path):
    result = run_ku7s(
        "delete", "cluster", "--name", unique("ghost"), env={"KUBECONFIG": str(tmp_path / "kc")}
    )
    assert result.returncode == 0
    assert "nothing to delete" in result.stderr


def test_adding_a_node_to_a_missing_cluster(tmp_path):
    result = run_ku7s("create", "node", "--name", unique("ghost"))
    assert_one_error_line(result, "no cluster named")


def test_a_failed_create_removes_what_it_made(provider, node_image, tmp_path):
    name = unique("fail")
    env = {"KUBECONFIG": str(tmp_path / "kc")}
    result = run_ku7s("create", "cluster", "--name", name, "--wait", "0.001", env=env)
    assert_one_error_line(result, "not Ready within")
    assert_nothing_left(provider, name)
    assert not (tmp_path / "kc").exists() or name not in (tmp_path / "kc").read_text()


def test_retain_keeps_the_nodes_of_a_failed_create(provider, node_image, tmp_path):
    name = unique("retain")
    env = {"KUBECONFIG": str(tmp_path / "kc")}
    try:
        result = run_ku7s(
            "create", "cluster", "--name", name, "--wait", "0.001", "--retain", env=env
        )
        assert_one_error_line(result, "not Ready within")
        kept = {n.name for n in provider.list_nodes(name)}
        assert kept == {f"{name}-control-plane", f"{name}-worker"}
    finally:
        run_ku7s("delete", "cluster", "--name", name, env=env)
    assert_nothing_left(provider, name)
