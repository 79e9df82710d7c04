"""Service account tokens: what they claim, and which ones the authenticator refuses."""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from control_plane.apiserver.authentication.request_authenticator import RequestAuthenticator
from control_plane.service_account_tokens import (
    ISSUER,
    BoundRef,
    InvalidToken,
    ServiceAccountTokens,
)
from ku7s import pki

SA = BoundRef("app", "sa-uid")
POD = BoundRef("web-0", "pod-uid")


def new_tokens(**kw) -> ServiceAccountTokens:
    return ServiceAccountTokens(pki.private_key_pem(pki.new_private_key()), **kw)


def test_bound_token_carries_upstreams_claims():
    tokens = new_tokens()
    token, expires = tokens.issue("ns", SA, [], 3600, pod=POD, node=BoundRef("w1", "node-uid"))
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "ES256" and header["kid"] == tokens.key_id
    assert claims["iss"] == ISSUER and claims["aud"] == [ISSUER]
    assert claims["sub"] == "system:serviceaccount:ns:app"
    assert claims["exp"] == expires and expires - claims["iat"] == 3600
    assert claims["kubernetes.io"] == {
        "namespace": "ns",
        "serviceaccount": {"name": "app", "uid": "sa-uid"},
        "pod": {"name": "web-0", "uid": "pod-uid"},
        "node": {"name": "w1", "uid": "node-uid"},
    }
    verified = tokens.verify(token)
    assert verified.pod == POD and verified.service_account == SA


def test_jwks_publishes_the_verifying_key():
    tokens = new_tokens()
    token, _ = tokens.issue("ns", SA, [], 3600)
    [key] = tokens.jwks()["keys"]
    assert key["kid"] == tokens.key_id and key["kty"] == "EC" and key["crv"] == "P-256"
    public = jwt.PyJWK(key).key
    assert jwt.decode(token, public, algorithms=["ES256"], audience=ISSUER)["sub"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda t, o: t.issue("ns", SA, [], 600, now=time.time() - 3600)[0], id="expired"
        ),
        pytest.param(lambda t, o: t.issue("ns", SA, ["vault"], 3600)[0], id="wrong-audience"),
        pytest.param(lambda t, o: o.issue("ns", SA, [], 3600)[0], id="other-cluster"),
        pytest.param(lambda t, o: t.issue("ns", SA, [], 3600)[0][:-4] + "AAAA", id="forged"),
    ],
)
def test_tokens_that_must_not_verify(make):
    tokens, other = new_tokens(), new_tokens()
    with pytest.raises(InvalidToken):
        tokens.verify(make(tokens, other))


def test_expiry_is_capped_by_the_server():
    tokens = new_tokens(max_expiration_seconds=900)
    token, expires = tokens.issue("ns", SA, [], 7200)
    assert expires - jwt.decode(token, options={"verify_signature": False})["iat"] == 900


class Objects:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict] = {}

    def put(self, plural: str, name: str, uid: str, **extra) -> None:
        self.items[(plural, "ns", name)] = {"metadata": {"name": name, "uid": uid}, **extra}

    async def __call__(self, plural: str, namespace: str, name: str):
        return self.items.get((plural, namespace, name))


async def test_token_stops_working_when_its_pod_goes():
    tokens, objects = new_tokens(), Objects()
    objects.put("serviceaccounts", "app", "sa-uid")
    objects.put("pods", "web-0", "pod-uid")
    clock = [0.0]
    authenticator = RequestAuthenticator(tokens, objects, clock=lambda: clock[0])
    token, _ = tokens.issue("ns", SA, [], 3600, pod=POD)
    user = await authenticator.authenticate_token(token)
    assert user is not None and user.name == "system:serviceaccount:ns:app"
    assert "system:serviceaccounts:ns" in user.groups
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("web-0",)
    objects.put("pods", "web-0", "another-uid")  # deleted and made again: a new pod
    clock[0] += 2
    assert await authenticator.authenticate_token(token) is None


async def test_legacy_token_lives_as_long_as_its_secret_holds_it():
    tokens, objects = new_tokens(), Objects()
    objects.put("serviceaccounts", "app", "sa-uid")
    token = tokens.issue_legacy("ns", SA, "app-token")
    objects.put(
        "secrets", "app-token", "s", data={"token": base64.b64encode(token.encode()).decode()}
    )
    authenticator = RequestAuthenticator(tokens, objects, clock=lambda: 0.0)
    assert (await authenticator.authenticate_token(token)).name == "system:serviceaccount:ns:app"
    other = RequestAuthenticator(tokens, objects)
    del objects.items[("secrets", "ns", "app-token")]
    assert await other.authenticate_token(token) is None


async def test_unknown_bearer_tokens_stand_for_nobody():
    authenticator = RequestAuthenticator(new_tokens(), Objects())
    assert await authenticator.authenticate_token("not-a-jwt") is None
    assert await authenticator.authenticate_token("a.b.c") is None
