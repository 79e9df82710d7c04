"""The kubelet's token manager: a pod's token is kept until 80 % of its life has passed,
the pod worker learns when that is, and a failed renewal keeps a still-valid token."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from ku7s.rpc import node_pb2
from node_image.kubelet.environment import ConfigError
from node_image.kubelet.service_account_tokens import ServiceAccountTokens

POD = {
    "metadata": {"name": "web", "namespace": "shop", "uid": "u1"},
    "spec": {"serviceAccountName": "app"},
}


class FakeChannel:
    """Answers RequestToken with numbered tokens that live `life` seconds, or fails."""

    def __init__(self, clock: list[float], life: int) -> None:
        self.clock = clock
        self.life = life
        self.requests: list[node_pb2.ServiceAccountTokenRequest] = []
        self.failing = False

    def unary_unary(self, method: str, **_: Any):
        async def call(request: node_pb2.ServiceAccountTokenRequest, timeout: float):
            self.requests.append(request)
            if self.failing:
                raise grpc.aio.AioRpcError(
                    grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                    details="control plane unreachable",
                )  # fmt: skip
            return node_pb2.ServiceAccountTokenResponse(
                token=f"t{len(self.requests)}", expiration_unix=int(self.clock[0]) + self.life
            )

        return call

    def __getattr__(self, name: str):
        return lambda *a, **k: None


def manager(life: int) -> tuple[ServiceAccountTokens, FakeChannel, list[float]]:
    clock = [1000.0]
    channel = FakeChannel(clock, life)
    return ServiceAccountTokens(channel, clock=lambda: clock[0]), channel, clock  # type: ignore[arg-type]


def test_a_token_is_kept_until_80_percent_of_its_life_then_renewed():
    tokens, channel, clock = manager(life=20)
    assert tokens.seconds_to_renewal("u1") is None
    assert asyncio.run(tokens.token(POD, "", 3607)) == "t1"
    request = channel.requests[0]
    assert (request.namespace, request.service_account, request.pod_uid) == ("shop", "app", "u1")
    assert tokens.seconds_to_renewal("u1") == pytest.approx(16)
    clock[0] += 10
    assert asyncio.run(tokens.token(POD, "", 3607)) == "t1"
    assert tokens.seconds_to_renewal("u1") == pytest.approx(6)
    clock[0] += 7
    assert tokens.seconds_to_renewal("u1") == 0.0
    assert asyncio.run(tokens.token(POD, "", 3607)) == "t2"
    assert tokens.seconds_to_renewal("u1") == pytest.approx(16)
    tokens.forget("u1")
    assert tokens.seconds_to_renewal("u1") is None


def test_a_failed_renewal_keeps_the_valid_token_and_an_expired_one_is_an_error():
    tokens, channel, clock = manager(life=20)
    asyncio.run(tokens.token(POD, "", 3607))
    channel.failing = True
    clock[0] += 17
    assert asyncio.run(tokens.token(POD, "", 3607)) == "t1"
    clock[0] += 5
    with pytest.raises(ConfigError, match='serviceaccounts "app" token: control plane'):
        asyncio.run(tokens.token(POD, "", 3607))


def test_a_day_old_token_is_renewed_whatever_its_expiry():
    tokens, _, _ = manager(life=10 * 24 * 3600)
    asyncio.run(tokens.token(POD, "api", 10 * 24 * 3600))
    assert tokens.seconds_to_renewal("u1") == pytest.approx(24 * 3600)
