"""The three PATCH types; strategic merge as kubectl apply relies on it."""

from __future__ import annotations

import pytest

from ku7s.api.patch import PatchConflict, PatchError, json_patch, merge_patch
from ku7s.api.patch import strategic_merge_patch as smp

DEPLOYMENT = "apps.Deployment"


def deployment(containers):
    return {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def test_merge_patch_deletes_with_null_and_replaces_lists():
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(target, {"a": {"b": None, "d": 3}, "l": [3]}) == {
        "a": {"c": 2, "d": 3},
        "l": [3],
    }


def test_json_patch_operations_and_failures():
    target = {"data": {"a": "1"}}
    assert json_patch(
        target,
        [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/data/a"}],
    ) == {"data": {"b": "2"}}
    with pytest.raises(PatchConflict):
        json_patch(target, [{"op": "test", "path": "/data/a", "value": "nope"}])
    with pytest.raises(PatchConflict):
        json_patch(target, [{"op": "remove", "path": "/data/missing"}])
    with pytest.raises(PatchError):
        json_patch(target, {"op": "add"})
    with pytest.raises(PatchError):
        json_patch(target, [{"op": "frobnicate", "path": "/x"}])


def test_kubectl_apply_patch_of_containers_env_and_sidecar():
    """The patch kubectl 1.x sends after editing an env var and removing a sidecar."""
    live = deployment(
        [
            {
                "name": "nginx",
                "image": "nginx:1.19",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            },
            {"name": "side", "image": "busybox"},
        ]
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "third"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}],
                            "env": [{"$patch": "delete", "name": "B"}],
                            "image": "nginx:1.20",
                            "name": "nginx",
                        },
                        {"image": "alpine", "name": "third"},
                        {"$patch": "delete", "name": "side"},
                    ],
                }
            }
        }
    }
    result = smp(live, patch, DEPLOYMENT)
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx", "third"]
    assert containers[0] == {
        "name": "nginx",
        "image": "nginx:1.20",
        "env": [{"name": "A", "value": "1"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    assert "$setElementOrder/env" not in str(result)


def test_lists_without_merge_keys_are_replaced():
    live = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "command": ["a", "b"]}],
                    "tolerations": [{"key": "x"}],
                }
            }
        }
    }
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "command": ["z"]}],
                    "tolerations": [{"key": "y"}],
                }
            }
        }
    }
    result = smp(live, patch, DEPLOYMENT)["spec"]["template"]["spec"]
    assert result["containers"][0]["command"] == ["z"]
    assert result["tolerations"] == [{"key": "y"}]


def test_primitive_lists_that_merge_and_delete_from_primitive_list():
    live = {"metadata": {"finalizers": ["a", "b"]}}
    assert smp(live, {"metadata": {"finalizers": ["c"]}}, DEPLOYMENT)["metadata"]["finalizers"] == [
        "a",
        "b",
        "c",
    ]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    assert smp(live, patch, DEPLOYMENT)["metadata"]["finalizers"] == ["b"]


def test_retain_keys_on_a_strategy_change():
    live = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(live, patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchConflict):
        smp(
            live, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, DEPLOYMENT
        )


def test_replace_directives_on_maps_and_lists():
    live = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}},
    }
    patch = {
        "metadata": {"labels": {"$patch": "replace", "c": "3"}},
        "spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "z"}]}}},
    }
    result = smp(live, patch, DEPLOYMENT)
    assert result["metadata"]["labels"] == {"c": "3"}
    assert result["spec"]["template"]["spec"]["containers"] == [{"name": "z"}]


def test_service_ports_merge_by_port():
    live = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    assert smp(live, patch, "core.Service")["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090},
        {"port": 443},
    ]


@pytest.mark.parametrize(
    "patch",
    [
        {"$patch": "explode"},
        {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
        ["not", "a", "map"],
    ],
)
def test_malformed_strategic_patches(patch):
    with pytest.raises(PatchError):
        smp(deployment([{"name": "c"}]), patch, DEPLOYMENT)


def test_an_object_without_a_schema_merges_maps_and_replaces_lists():
    assert smp({"a": [1], "b": {"c": 1}}, {"a": [2], "b": {"d": 2}}, None) == {
        "a": [2],
        "b": {"c": 1, "d": 2},
    }
