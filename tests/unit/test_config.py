"""The cluster config file: what is accepted, the defaults, and what each mistake says."""

from __future__ import annotations

import pytest

from ku7s.cluster.config import ClusterConfig, Taint, load_config, parse_config, parse_labels_flag
from ku7s.errors import ConfigError


def doc(**fields):
    return {"kind": "Cluster", "apiVersion": "ku7s.dev/v1alpha1", **fields}


def test_defaults_give_one_control_plane_and_one_worker():
    config = parse_config(doc())
    assert config.name == "ku7s"
    assert [n.role for n in config.nodes] == ["control-plane", "worker"]
    assert config.pod_subnet == "10.244.0.0/16"
    assert config.service_subnet == "10.96.0.0/16"
    assert config.api_server_port == 0
    assert config.max_token_expiration_seconds is None


def test_hollow_node_groups_are_parsed():
    config = parse_config(
        doc(hollowNodes=[
            {"count": 200, "labels": {"rack": "r1"}, "capacity": {"cpu": 8, "pods": 50}},
            {"count": 3, "untainted": True},
        ])
    )  # fmt: skip
    first, second = config.hollow_nodes
    assert (first.count, first.labels, first.capacity) == (200, {"rack": "r1"}, "cpu=8,pods=50")
    assert (second.count, second.untainted, second.capacity) == (3, True, "")


def test_token_life_can_be_capped():
    config = parse_config(doc(serviceAccountTokens={"maxExpirationSeconds": 20}))
    assert config.max_token_expiration_seconds == 20


def test_full_config_is_parsed():
    config = parse_config(
        doc(
            name="dev",
            networking={
                "podSubnet": "10.10.0.0/16",
                "serviceSubnet": "10.20.0.0/20",
                "apiServerPort": 16443,
            },
            nodes=[
                {
                    "role": "worker",
                    "labels": {"tier": "frontend", "example.com/zone": "a"},
                    "taints": [
                        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                        "spot:PreferNoSchedule",
                    ],
                    "resources": {"cpu": "500m", "memory": "512Mi"},
                },
                {"role": "control-plane"},
            ],
        )
    )
    assert config.name == "dev"
    assert config.api_server_port == 16443
    assert config.nodes[0].role == "control-plane"  # sorted first
    worker = config.workers[0]
    assert worker.labels == {"tier": "frontend", "example.com/zone": "a"}
    assert worker.taints == (
        Taint("dedicated", "gpu", "NoSchedule"),
        Taint("spot", "", "PreferNoSchedule"),
    )
    assert worker.nano_cpus == 500_000_000
    assert worker.memory_bytes == 512 * 2**20
    assert str(worker.taints[0]) == "dedicated=gpu:NoSchedule"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"kind": "Cluster"}, 'apiVersion: must be "ku7s.dev/v1alpha1"', id="no-version"
        ),
        pytest.param(doc(kind="Pod"), 'kind: must be "Cluster"', id="wrong-kind"),
        pytest.param(doc(nodez=[]), 'unknown field "nodez"', id="unknown-top-field"),
        pytest.param(
            doc(nodes=[{"role": "worker", "lables": {}}]),
            'unknown field "nodes[0].lables"',
            id="unknown-node-field",
        ),
        pytest.param(
            doc(networking={"podSubnet": "10.244.0.0/33"}), "networking.podSubnet", id="bad-cidr"
        ),
        pytest.param(
            doc(networking={"podSubnet": "10.244.0.0/25"}),
            "between /8 and /24",
            id="pod-subnet-too-small",
        ),
        pytest.param(
            doc(networking={"podSubnet": "10.0.0.0/8", "serviceSubnet": "10.96.0.0/16"}),
            "overlaps",
            id="overlap",
        ),
        pytest.param(doc(networking={"apiServerPort": 70000}), "0 to 65535", id="port-range"),
        pytest.param(
            doc(networking={"apiServerPort": "x"}), "expected a port number", id="port-type"
        ),
        pytest.param(doc(nodes=[{"role": "worker"}]), "exactly one control-plane", id="no-cp"),
        pytest.param(
            doc(nodes=[{"role": "control-plane"}, {"role": "control-plane"}]),
            "exactly one control-plane",
            id="two-cps",
        ),
        pytest.param(
            doc(nodes=[{"role": "control-plane"}, {"role": "master"}]),
            "must be control-plane or worker",
            id="bad-role",
        ),
        pytest.param(
            doc(
                nodes=[
                    {"role": "control-plane"},
                    {"role": "worker", "resources": {"memory": "12Mi"}},
                ]
            ),
            "at least 128Mi",
            id="too-little-memory",
        ),
        pytest.param(
            doc(
                nodes=[{"role": "control-plane"}, {"role": "worker", "resources": {"cpu": "lots"}}]
            ),
            "nodes[1].resources.cpu",
            id="bad-cpu",
        ),
        pytest.param(
            doc(
                nodes=[
                    {"role": "control-plane"},
                    {"role": "worker", "taints": [{"key": "a", "effect": "Never"}]},
                ]
            ),
            "must be one of NoSchedule",
            id="bad-effect",
        ),
        pytest.param(
            doc(nodes=[{"role": "control-plane"}, {"role": "worker", "labels": {"bad key!": "x"}}]),
            "invalid label key",
            id="bad-label",
        ),
        pytest.param(doc(name="Bad_Name"), "invalid cluster name", id="bad-name"),
        pytest.param(
            doc(nodeLifecycle={"gracePeriodSeconds": 1}),
            "nodeLifecycle.gracePeriodSeconds: must be 2 or more",
            id="grace-too-short",
        ),
        pytest.param(
            doc(nodeLifecycle={"podEvictionSeconds": "soon"}),
            "nodeLifecycle.podEvictionSeconds",
            id="eviction-not-a-number",
        ),
        pytest.param(
            doc(nodeLifecycle={"gracePeriod": 5}),
            'unknown field "nodeLifecycle.gracePeriod"',
            id="unknown-lifecycle-field",
        ),
        pytest.param(
            doc(serviceAccountTokens={"maxExpirationSeconds": 5}),
            "serviceAccountTokens.maxExpirationSeconds: must be 10 or more, not 5",
            id="token-life-too-short",
        ),
        pytest.param(
            doc(serviceAccountTokens={"maxExpiration": "1h"}),
            'unknown field "serviceAccountTokens.maxExpiration"',
            id="unknown-token-field",
        ),
        pytest.param(["not", "a", "map"], "expected a mapping", id="not-a-map"),
        pytest.param(
            doc(hollowNodes=[{"count": 0}]),
            "hollowNodes[0].count: must be at least 1",
            id="no-hollow-nodes",
        ),
        pytest.param(
            doc(hollowNodes=[{"count": 5, "capacity": {"gpus": 1}}]),
            'unknown field "hollowNodes[0].capacity.gpus"',
            id="hollow-gpus",
        ),
        pytest.param(
            doc(hollowNodes=[{"capacity": {"cpu": "lots"}}]),
            "hollowNodes[0].capacity.cpu",
            id="hollow-bad-cpu",
        ),
    ],
)
def test_mistakes_are_named(data, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_config_reports_yaml_errors_on_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: Cluster\n  bad: [indent\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "not valid YAML" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(__import__("pathlib").Path("/nonexistent/ku7s.yaml"))


def test_workers_flag_replaces_nodes():
    config = ClusterConfig().with_workers(3)
    assert [n.role for n in config.nodes] == ["control-plane"] + ["worker"] * 3
    with pytest.raises(ConfigError):
        ClusterConfig().with_workers(-1)


def test_labels_flag():
    assert parse_labels_flag("a=1, b=two,") == {"a": "1", "b": "two"}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_labels_flag("novalue")


def test_node_lifecycle_defaults_and_overrides():
    defaults = parse_config(doc())
    assert (defaults.node_grace_seconds, defaults.pod_eviction_seconds) == (5, 10)
    tuned = parse_config(doc(nodeLifecycle={"gracePeriodSeconds": 40, "podEvictionSeconds": 0}))
    assert (tuned.node_grace_seconds, tuned.pod_eviction_seconds) == (40, 0)


def test_the_node_service_can_be_published_on_a_host_address():
    base = {"kind": "Cluster", "apiVersion": "ku7s.dev/v1alpha1"}
    config = parse_config({**base, "networking": {"nodeServiceAddress": "192.168.1.10"}})
    assert config.node_service_address == "192.168.1.10"
    assert parse_config(base).node_service_address == ""
    with pytest.raises(ConfigError, match="nodeServiceAddress: must be an IP address"):
        parse_config({**base, "networking": {"nodeServiceAddress": "my-laptop"}})
