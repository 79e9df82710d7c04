"""Service account tokens: JWTs signed with the cluster's service account key (ES256).

Bound tokens (TokenRequest, what pods get) carry upstream's claims: issuer, audiences,
expiry and a ``kubernetes.io`` claim naming the namespace, the service account and the
object the token is bound to (a pod, and the pod's node, or a Secret). Legacy tokens (the
ones a token controller puts in ``kubernetes.io/service-account-token`` Secrets) carry the
pre-1.21 claims and no expiry. Verifying checks the signature, the issuer, the audience
and the expiry; whether the bound objects still exist is the authenticator's question.
The API server signs and verifies; the controller manager signs legacy tokens.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

#: kubeadm's default --service-account-issuer (and so the default API audience).
ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
ALGORITHM = "ES256"
#: TokenRequest's bounds and default (upstream's validation and defaulting).
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 2**32
DEFAULT_EXPIRATION_SECONDS = 3600
#: Seconds of clock difference tolerated on expiry and not-before.
LEEWAY_SECONDS = 60

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


class InvalidToken(Exception):
    """A token that is ours in form but must not be accepted (its contents are not told)."""


@dataclass(frozen=True)
class BoundRef:
    name: str
    uid: str


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says about who holds it."""

    namespace: str
    service_account: BoundRef
    pod: BoundRef | None = None
    secret: BoundRef | None = None
    node: BoundRef | None = None
    token_id: str = ""
    expires: int | None = None


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Upstream's kid: the unpadded base64url SHA-256 of the DER public key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class ServiceAccountTokens:
    def __init__(
        self,
        key_pem: bytes,
        issuer: str = ISSUER,
        api_audiences: tuple[str, ...] = (),
        max_expiration_seconds: int | None = None,
    ) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the service account key must be an ECDSA P-256 key")
        self._key = key
        self._public = key.public_key()
        self.key_id = key_id(self._public)
        self.issuer = issuer
        self.api_audiences = api_audiences or (issuer,)
        self._max_expiration = max_expiration_seconds

    # -- issuing -------------------------------------------------------------------------

    def expiration_for(self, requested: int) -> int:
        """The lifetime a token asked for `requested` seconds gets (capped by the server)."""
        if self._max_expiration is not None:
            return min(requested, self._max_expiration)
        return requested

    def issue(
        self,
        namespace: str,
        service_account: BoundRef,
        audiences: list[str],
        expiration_seconds: int,
        *,
        pod: BoundRef | None = None,
        secret: BoundRef | None = None,
        node: BoundRef | None = None,
        now: float | None = None,
    ) -> tuple[str, int]:
        """A bound token and its expiry (seconds since the epoch)."""
        issued = int(now if now is not None else time.time())
        expires = issued + self.expiration_for(expiration_seconds)
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": service_account.name, "uid": service_account.uid},
        }
        for key, ref in (("pod", pod), ("secret", secret), ("node", node)):
            if ref is not None:
                private[key] = {"name": ref.name, "uid": ref.uid}
        claims = {
            "aud": audiences or list(self.api_audiences),
            "exp": expires,
            "iat": issued,
            "nbf": issued,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "sub": service_account_user(namespace, service_account.name),
        }
        return self._sign(claims), expires

    def issue_legacy(self, namespace: str, service_account: BoundRef, secret_name: str) -> str:
        """The never-expiring token a service-account-token Secret holds."""
        prefix = "kubernetes.io/serviceaccount/"
        return self._sign(
            {
                "iss": LEGACY_ISSUER,
                f"{prefix}namespace": namespace,
                f"{prefix}secret.name": secret_name,
                f"{prefix}service-account.name": service_account.name,
                f"{prefix}service-account.uid": service_account.uid,
                "sub": service_account_user(namespace, service_account.name),
            }
        )

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})

    # -- verifying -----------------------------------------------------------------------

    def is_ours(self, token: str) -> bool:
        """Whether a bearer token looks like one of our JWTs (else another authenticator's)."""
        if token.count(".") != 2:
            return False
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return False
        return issuer in (self.issuer, LEGACY_ISSUER)

    def verify(self, token: str, audiences: tuple[str, ...] | None = None) -> TokenClaims:
        # Bound tokens are the common case: decode once as one, and only a token whose
        # issuer is not ours is tried as a legacy one (one decode per request, not two).
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=list(audiences or self.api_audiences),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except (jwt.InvalidIssuerError, jwt.MissingRequiredClaimError):
            try:
                return self._legacy_claims(
                    jwt.decode(token, self._public, algorithms=[ALGORITHM], issuer=LEGACY_ISSUER)
                )
            except jwt.PyJWTError as e:
                raise InvalidToken(type(e).__name__) from None
        except jwt.PyJWTError as e:
            raise InvalidToken(type(e).__name__) from None
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            raise InvalidToken("no kubernetes.io claim")
        return TokenClaims(
            namespace=str(private.get("namespace", "")),
            service_account=_ref(private.get("serviceaccount")) or BoundRef("", ""),
            pod=_ref(private.get("pod")),
            secret=_ref(private.get("secret")),
            node=_ref(private.get("node")),
            token_id=str(claims.get("jti", "")),
            expires=int(claims["exp"]),
        )

    @staticmethod
    def _legacy_claims(claims: dict[str, Any]) -> TokenClaims:
        prefix = "kubernetes.io/serviceaccount/"
        return TokenClaims(
            namespace=str(claims.get(f"{prefix}namespace", "")),
            service_account=BoundRef(
                str(claims.get(f"{prefix}service-account.name", "")),
                str(claims.get(f"{prefix}service-account.uid", "")),
            ),
            secret=BoundRef(str(claims.get(f"{prefix}secret.name", "")), ""),
        )

    # -- discovery -----------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public key set (/openid/v1/jwks)."""
        key = ECAlgorithm.to_jwk(self._public, as_dict=True)
        return {"keys": [{"use": "sig", "kid": self.key_id, "alg": ALGORITHM, **key}]}

    def openid_configuration(self, jwks_uri: str) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
        }


def _ref(value: Any) -> BoundRef | None:
    if not isinstance(value, dict):
        return None
    return BoundRef(str(value.get("name", "")), str(value.get("uid", "")))
