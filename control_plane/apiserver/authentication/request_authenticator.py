"""The authenticator chain every API request goes through, in kube-apiserver's order.

A verified client certificate names the user. Otherwise a bearer token (the Authorization
header, or the WebSocket subprotocol browsers must use) is checked: a service account JWT
is valid while its signature, audience and expiry hold and the service account, pod or
Secret it is bound to still exists with the same uid; a bootstrap token names
``system:bootstrap:<id>``. A request with no credential is ``system:anonymous``. A
credential that does not check out is a 401, whatever the reason, and nothing of the token
is logged.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from control_plane.apiserver import errors
from control_plane.apiserver.authentication.user import ANONYMOUS, AUTHENTICATED, User
from control_plane.apiserver.authentication.x509 import certificate_user
from control_plane.apiserver.node_service.tokens import BootstrapTokens
from control_plane.service_account_tokens import (
    LEEWAY_SECONDS,
    BoundRef,
    InvalidToken,
    ServiceAccountTokens,
    TokenClaims,
    service_account_user,
)

Object = dict[str, Any]
#: Reads an object (plural, namespace, name); None when there is none.
Lookup = Callable[[str, str, str], Awaitable[Object | None]]

_WEBSOCKET_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io."
#: How long a token's bound objects are trusted to exist before they are read again.
BOUND_CHECK_SECONDS = 1.0
_CACHE_LIMIT = 10_000


_EXTRA = "authentication.kubernetes.io/"


def claims_user(claims: TokenClaims) -> User:
    """The user a service account token stands for, with upstream's extra fields."""
    extra: dict[str, tuple[str, ...]] = {}
    for key, ref in (("pod", claims.pod), ("node", claims.node)):
        if ref is not None:
            extra[f"{_EXTRA}{key}-name"] = (ref.name,)
            if ref.uid:
                extra[f"{_EXTRA}{key}-uid"] = (ref.uid,)
    if claims.token_id:
        extra[f"{_EXTRA}credential-id"] = (f"JTI={claims.token_id}",)
    return User(
        service_account_user(claims.namespace, claims.service_account.name),
        ("system:serviceaccounts", f"system:serviceaccounts:{claims.namespace}", AUTHENTICATED),
        claims.service_account.uid,
        extra,
    )


def _expired(claims: TokenClaims) -> bool:
    return claims.expires is not None and claims.expires + LEEWAY_SECONDS < time.time()


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(_WEBSOCKET_PROTOCOL_PREFIX):
            encoded = protocol[len(_WEBSOCKET_PROTOCOL_PREFIX) :]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


class RequestAuthenticator:
    def __init__(
        self,
        tokens: ServiceAccountTokens | None = None,
        lookup: Lookup | None = None,
        bootstrap_tokens: BootstrapTokens | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._lookup = lookup
        self._bootstrap = bootstrap_tokens
        self._clock = clock
        #: token -> (claims, monotonic time its bound objects were last found, its user)
        self._verified: dict[str, tuple[TokenClaims, float, User]] = {}

    async def __call__(self, request: web.Request) -> User:
        user = certificate_user(request)
        if user is not None:
            return user
        token = bearer_token(request)
        if token is None:
            return ANONYMOUS
        user = await self.authenticate_token(token)
        if user is None:
            raise errors.unauthorized()
        return user

    async def authenticate_token(
        self, token: str, audiences: tuple[str, ...] | None = None
    ) -> User | None:
        """The user a bearer token stands for, or None if it stands for nobody."""
        held = self._verified.get(token) if audiences is None else None
        fresh = held is not None and self._clock() - held[1] < BOUND_CHECK_SECONDS
        if held is not None and fresh and not _expired(held[0]):
            return held[2]  # the path nearly every request of a pod takes
        if self._tokens is not None and self._tokens.is_ours(token):
            claims = await self._service_account(token, audiences)
            return None if claims is None else claims_user(claims)
        if self._bootstrap is not None and self._bootstrap.accepts(token):
            token_id = token.split(".", 1)[0]
            return User(
                f"system:bootstrap:{token_id}",
                ("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                 AUTHENTICATED),
            )  # fmt: skip
        return None

    async def _service_account(
        self, token: str, audiences: tuple[str, ...] | None
    ) -> TokenClaims | None:
        assert self._tokens is not None
        now = self._clock()
        cached = self._verified.get(token) if audiences is None else None
        if cached is not None:
            claims = cached[0]
            if _expired(claims):
                self._verified.pop(token, None)
                return None
        else:
            try:
                claims = self._tokens.verify(token, audiences)
            except InvalidToken:
                return None
        if not await self._bound_objects_exist(claims, token):
            self._verified.pop(token, None)
            return None
        if audiences is None:
            if len(self._verified) >= _CACHE_LIMIT:
                self._verified.clear()
            self._verified[token] = (claims, now, claims_user(claims))
        return claims

    async def _bound_objects_exist(self, claims: TokenClaims, token: str) -> bool:
        if self._lookup is None:
            return True
        ns = claims.namespace
        if not await self._exists("serviceaccounts", ns, claims.service_account):
            return False
        if claims.pod is not None and not await self._exists("pods", ns, claims.pod):
            return False
        if claims.secret is not None:
            secret = await self._lookup("secrets", ns, claims.secret.name)
            if secret is None:
                return False
            if claims.secret.uid:
                return bool(secret["metadata"].get("uid") == claims.secret.uid)
            # A legacy token is valid while its Secret still holds it.
            held = (secret.get("data") or {}).get("token", "")
            try:
                return base64.b64decode(held).decode() == token
            except (binascii.Error, UnicodeDecodeError):
                return False
        return True

    async def _exists(self, plural: str, namespace: str, ref: BoundRef) -> bool:
        assert self._lookup is not None
        found = await self._lookup(plural, namespace, ref.name)
        return found is not None and (not ref.uid or found["metadata"].get("uid") == ref.uid)
