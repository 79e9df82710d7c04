"""Service account tokens for pods' projected volumes, asked of the control plane and kept
until they need renewing (upstream's token manager): when 80 % of a token's life has
passed, or it is a day old, the next volume refresh gets a new one."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from ku7s.rpc import node_pb2, node_pb2_grpc
from node_image.kubelet.environment import ConfigError

Object = dict[str, object]

#: Renew once this share of the token's life has passed.
RENEW_AT = 0.8
MAX_AGE_SECONDS = 24 * 3600


class ServiceAccountTokens:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stub = node_pb2_grpc.NodeServiceStub(channel)
        self._timeout = timeout
        self._clock = clock
        #: (namespace, pod uid, service account, audience, seconds) -> (token, issued, expires)
        self._tokens: dict[tuple[str, str, str, str, int], tuple[str, float, float]] = {}

    async def token(self, pod: dict[str, object], audience: str, expiration_seconds: int) -> str:
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        assert isinstance(metadata, dict) and isinstance(spec, dict)
        namespace, uid = str(metadata.get("namespace", "")), str(metadata.get("uid", ""))
        account = str(spec.get("serviceAccountName") or "default")
        key = (namespace, uid, account, audience, expiration_seconds)
        now = self._clock()
        held = self._tokens.get(key)
        if held is not None:
            token, issued, expires = held
            if now < issued + (expires - issued) * RENEW_AT and now - issued < MAX_AGE_SECONDS:
                return token
        try:
            reply = await self._stub.RequestToken(
                node_pb2.ServiceAccountTokenRequest(
                    namespace=namespace,
                    service_account=account,
                    pod_name=str(metadata.get("name", "")),
                    pod_uid=uid,
                    audiences=[audience] if audience else [],
                    expiration_seconds=expiration_seconds,
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as e:
            if held is not None and now < held[2]:
                return held[0]  # still valid: keep it and try again at the next refresh
            raise ConfigError(
                f'failed to fetch token: serviceaccounts "{account}" token: {e.details()}'
            ) from e
        self._tokens[key] = (reply.token, now, float(reply.expiration_unix))
        return reply.token

    def seconds_to_renewal(self, pod_uid: str) -> float | None:
        """How long until one of the pod's tokens is due (0 if one is), None if it has none."""
        now = self._clock()
        due = [
            min(issued + (expires - issued) * RENEW_AT, issued + MAX_AGE_SECONDS) - now
            for key, (_, issued, expires) in self._tokens.items()
            if key[1] == pod_uid
        ]
        return max(0.0, min(due)) if due else None

    def forget(self, pod_uid: str) -> None:
        """Drop a finished pod's tokens."""
        self._tokens = {k: v for k, v in self._tokens.items() if k[1] != pod_uid}
