from __future__ import annotations

import pytest

from ku7s import names
from ku7s.errors import UserInputError


@pytest.mark.parametrize("name", ["a", "dev", "my-cluster-1", "x" * 49])
def test_valid_cluster_names(name):
    assert names.validate_cluster_name(name) == name


@pytest.mark.parametrize("name", ["", "Dev", "-a", "a-", "a_b", "a.b", "x" * 50, "a b"])
def test_invalid_cluster_names(name):
    with pytest.raises(UserInputError, match="cluster name"):
        names.validate_cluster_name(name)


def test_worker_names_follow_kind():
    assert names.worker_name("dev", 1) == "dev-worker"
    assert names.worker_name("dev", 2) == "dev-worker2"
    assert names.worker_index("dev", "dev-worker") == 1
    assert names.worker_index("dev", "dev-worker12") == 12
    assert names.worker_index("dev", "dev-control-plane") is None
    assert names.worker_index("dev", "dev-worker02") is None


def test_the_next_worker_takes_the_first_free_index_whatever_kind_of_node_holds_the_others():
    taken = {"c-control-plane", "c-worker", "c-worker3", "c-gpu-box"}
    assert names.next_worker_name("c", taken) == "c-worker2"
    assert names.next_worker_name("c", taken | {"c-worker2"}) == "c-worker4"
    assert names.next_worker_name("c", set()) == "c-worker"
