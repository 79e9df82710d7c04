from __future__ import annotations

import pytest

from control_plane.apiserver.node_service.ipam import PodCIDRAllocator, PodCIDRExhausted


def test_allocates_lowest_free_block():
    allocator = PodCIDRAllocator("10.244.0.0/16")
    assert allocator.allocate([]) == "10.244.0.0/24"
    assert allocator.allocate(["10.244.0.0/24", "10.244.2.0/24"]) == "10.244.1.0/24"
    assert allocator.allocate(["", "garbage", "10.244.0.0/24"]) == "10.244.1.0/24"


def test_a_freed_block_is_reused():
    allocator = PodCIDRAllocator("10.244.0.0/16")
    in_use = [allocator.allocate([]) for _ in range(1)]
    in_use.append(allocator.allocate(in_use))
    in_use.remove("10.244.0.0/24")
    assert allocator.allocate(in_use) == "10.244.0.0/24"


def test_exhaustion_is_reported():
    allocator = PodCIDRAllocator("10.244.0.0/23")
    assert allocator.capacity == 2
    with pytest.raises(PodCIDRExhausted, match="no free /24"):
        allocator.allocate(["10.244.0.0/24", "10.244.1.0/24"])


def test_mask_larger_than_cluster_cidr_is_refused():
    with pytest.raises(ValueError):
        PodCIDRAllocator("10.244.0.0/24", node_mask=16)
