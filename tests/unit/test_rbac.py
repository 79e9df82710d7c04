"""RBAC as kubectl users meet it: request attributes, rule matching, the authorizer kept
by watch, escalation, aggregation, and the answers over HTTP."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.admission.rbac_escalation import RBACEscalationCheck
from control_plane.apiserver.app import build_app
from control_plane.apiserver.authentication.request_user import REQUEST_USER
from control_plane.apiserver.authentication.user import ANONYMOUS, User
from control_plane.apiserver.authorization.attributes import forbidden, request_attributes
from control_plane.apiserver.authorization.authorizer import Authorizer
from control_plane.apiserver.authorization.policy_reconciler import reconcile_bootstrap_policy
from control_plane.apiserver.authorization.rbac import RBACAuthorizer
from control_plane.apiserver.authorization.rules import covers, rule_allows
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.errors import APIError
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from control_plane.controllers.clusterrole_aggregation import aggregated_rules
from tests.unit.fakes import MemoryStorage

RBAC = "rbac.authorization.k8s.io"
ALICE = User("alice", ("devs", "system:authenticated"))


def attrs(user, method, path, **query):
    return request_attributes(user, method, path, query)


def test_request_attributes_as_upstream_reads_them():
    a = attrs(ALICE, "GET", "/api/v1/namespaces/ns/pods")
    assert (a.verb, a.resource, a.namespace, a.name) == ("list", "pods", "ns", "")
    assert attrs(ALICE, "GET", "/api/v1/namespaces/ns/pods", watch="true").verb == "watch"
    a = attrs(ALICE, "POST", "/api/v1/namespaces/ns/pods/web/exec")
    assert (a.verb, a.resource, a.subresource, a.name) == ("create", "pods", "exec", "web")
    a = attrs(ALICE, "DELETE", "/apis/apps/v1/namespaces/ns/deployments")
    assert (a.verb, a.api_group) == ("deletecollection", "apps")
    a = attrs(ALICE, "GET", "/api/v1/namespaces/ns")
    assert (a.resource, a.name, a.namespace) == ("namespaces", "ns", "ns")
    a = attrs(ALICE, "GET", "/api/v1/namespaces/kube-system/configmaps",
              fieldSelector="metadata.name=kube-proxy")  # fmt: skip
    assert (a.verb, a.name) == ("list", "kube-proxy")
    for path in ("/api", "/api/v1", "/apis/apps/v1", "/healthz", "/version"):
        assert not attrs(ALICE, "GET", path).resource_request


def test_forbidden_in_upstreams_words():
    a = attrs(ANONYMOUS, "GET", "/api/v1/pods")
    assert forbidden(a).message == (
        'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
        "at the cluster scope"
    )
    a = attrs(ALICE, "GET", "/apis/apps/v1/namespaces/ns/deployments/web")
    error = forbidden(a)
    assert error.code == 403 and error.reason == "Forbidden"
    assert error.message == (
        'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" '
        'in API group "apps" in the namespace "ns"'
    )
    assert forbidden(attrs(ALICE, "GET", "/api")).message == (
        'forbidden: User "alice" cannot get path "/api"'
    )


@pytest.mark.parametrize(
    ("rule", "method", "path", "allowed"),
    [
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
         "GET", "/api/v1/namespaces/ns/pods/a", True),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
         "GET", "/api/v1/namespaces/ns/pods/a/log", False),
        ({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
         "GET", "/api/v1/namespaces/ns/pods/a/log", True),
        ({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]},
         "GET", "/api/v1/namespaces/ns/pods/a/log", True),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["b"]},
         "GET", "/api/v1/namespaces/ns/pods/a", False),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["list"], "resourceNames": ["b"]},
         "GET", "/api/v1/namespaces/ns/pods", False),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
         "DELETE", "/apis/apps/v1/namespaces/ns/deployments", True),
        ({"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}, "GET", "/healthz/etcd", True),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, "GET", "/healthz/etcd", False),
    ],
)  # fmt: skip
def test_rule_matching(rule, method, path, allowed):
    assert rule_allows(rule, attrs(ALICE, method, path)) is allowed


def test_covers_wildcards_only_with_wildcards():
    held = [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list"]}]
    assert covers(held, {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]})
    assert not covers(held, {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]})
    assert not covers(held, {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]})
    named = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["a"]}]
    assert covers(named, {**named[0]})
    assert not covers(named, {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]})


def test_aggregation_takes_the_selected_roles_rules_once():
    label = {"rbac.authorization.k8s.io/aggregate-to-view": "true"}
    view = {"metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]}}  # fmt: skip
    rule = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
    everything = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    roles = [
        view,
        {"metadata": {"name": "b", "labels": label}, "rules": [rule]},
        {"metadata": {"name": "a", "labels": label}, "rules": [rule]},
        {"metadata": {"name": "c"}, "rules": [everything]},
    ]
    assert aggregated_rules(view, roles) == [rule]


@pytest.fixture
async def cluster():
    """A registry with the bootstrap policy and an RBAC authorizer following it."""
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    await registry.create(registry.kinds.get("namespaces"), "", {"metadata": {"name": "ns"}})
    await reconcile_bootstrap_policy(registry)
    rbac = RBACAuthorizer(registry)
    registry.admission.append(RBACEscalationCheck(rbac))
    stop = asyncio.Event()
    task = asyncio.create_task(rbac.run(stop))
    await rbac.wait_synced()
    yield registry, rbac
    stop.set()
    await task


async def settled(condition, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_binding_grants_and_its_removal_revokes(cluster):
    registry, rbac = cluster
    authorizer = Authorizer(rbac)
    sa = User("system:serviceaccount:ns:app", ("system:serviceaccounts", "system:authenticated"))
    list_pods = attrs(sa, "GET", "/api/v1/namespaces/ns/pods")
    assert not authorizer.authorize(list_pods).allowed
    kind = registry.kinds.get("rolebindings", RBAC)
    binding = {
        "metadata": {"name": "app-view"},
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "app"}],
    }
    await registry.create(kind, "ns", binding)
    await settled(lambda: "not found" in authorizer.authorize(list_pods).reason)
    assert authorizer.authorize(list_pods).reason == (
        'RBAC: role.rbac.authorization.k8s.io "reader" not found'
    )  # a binding to a missing role grants nothing
    await registry.create(
        registry.kinds.get("roles", RBAC),
        "ns",
        {"metadata": {"name": "reader"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]},
    )  # fmt: skip
    await settled(lambda: authorizer.authorize(list_pods).allowed)
    assert not authorizer.authorize(attrs(sa, "GET", "/api/v1/namespaces/other/pods")).allowed
    await registry.delete(kind, "ns", "app-view")
    await settled(lambda: not authorizer.authorize(list_pods).allowed)


async def test_public_info_for_everyone_discovery_for_the_authenticated(cluster):
    _, rbac = cluster
    authorizer = Authorizer(rbac)
    assert authorizer.authorize(attrs(ANONYMOUS, "GET", "/version")).allowed
    assert authorizer.authorize(attrs(ANONYMOUS, "GET", "/healthz")).allowed
    assert not authorizer.authorize(attrs(ANONYMOUS, "GET", "/api")).allowed
    assert authorizer.authorize(attrs(ALICE, "GET", "/apis/apps/v1")).allowed
    admin = User("kubernetes-admin", ("system:masters", "system:authenticated"))
    assert authorizer.authorize(attrs(admin, "DELETE", "/api/v1/nodes/x")).allowed


async def test_escalation_is_refused(cluster):
    registry, rbac = cluster
    await registry.create(
        registry.kinds.get("rolebindings", RBAC),
        "ns",
        {"metadata": {"name": "alice-admin"},
         "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:aggregate-to-admin"},
         "subjects": [{"kind": "User", "name": "alice"}]},
    )  # fmt: skip
    list_roles = attrs(ALICE, "GET", f"/apis/{RBAC}/v1/namespaces/ns/roles")
    await settled(lambda: rbac.authorize(list_roles).allowed)
    roles = registry.kinds.get("roles", RBAC)
    token = REQUEST_USER.set(ALICE)
    try:
        with pytest.raises(APIError) as refused:
            await registry.create(
                roles, "ns",
                {"metadata": {"name": "nodes"},
                 "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
            )  # fmt: skip
        assert refused.value.code == 403
        assert "attempting to grant RBAC permissions not currently held" in refused.value.message
        # What alice holds (roles in her namespace) she may grant.
        await registry.create(
            roles, "ns",
            {"metadata": {"name": "roles"},
             "rules": [{"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["get"]}]},
        )  # fmt: skip
        # A binding to a role that is not there cannot be checked, so it is refused to her.
        with pytest.raises(APIError) as missing:
            await registry.create(
                registry.kinds.get("rolebindings", RBAC), "ns",
                {"metadata": {"name": "ghost"},
                 "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "ghost"},
                 "subjects": [{"kind": "User", "name": "carol"}]},
            )  # fmt: skip
        assert (missing.value.code, missing.value.message) == (
            400,
            'role.rbac.authorization.k8s.io "ghost" not found',
        )
    finally:
        REQUEST_USER.reset(token)


def test_a_malformed_rule_is_422():
    kind = builtin_kinds().get("roles", RBAC)
    from ku7s.api.field_errors import FieldErrors

    problems = FieldErrors()
    kind.validate(
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["Get"]},
                   {"resources": ["pods"], "verbs": ["get"]},
                   {"nonResourceURLs": ["/x"], "verbs": ["get"]}]},
        problems,
    )  # fmt: skip
    fields = [path for path, _, _ in problems.errors]
    assert fields == ["rules[0].verbs[0]", "rules[1].apiGroups", "rules[2].nonResourceURLs"]


async def test_http_answers(cluster):
    registry, rbac = cluster
    users = {"alice": ALICE, "": ANONYMOUS}

    async def authenticate(request):
        return users[request.headers.get("X-Test-User", "")]

    app = build_app(registry, "127.0.0.1:6443", authenticator=authenticate,
                    authorizer=Authorizer(rbac))  # fmt: skip
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/v1/pods")
        assert response.status == 403
        body = await response.json()
        assert body["reason"] == "Forbidden" and "system:anonymous" in body["message"]
        assert (await client.get("/version")).status == 200
        alice = {"X-Test-User": "alice"}
        whoami = await client.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}, headers=alice
        )
        assert (await whoami.json())["status"]["userInfo"]["username"] == "alice"
        review = await client.post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            json={"spec": {"resourceAttributes": {"verb": "list", "resource": "pods",
                                                  "namespace": "ns"}}},
            headers=alice,
        )  # fmt: skip
        assert review.status == 201 and (await review.json())["status"]["allowed"] is False
        impersonating = await client.get(
            "/api/v1/namespaces/ns/pods", headers={**alice, "Impersonate-User": "bob"}
        )
        assert impersonating.status == 403
        assert 'cannot impersonate resource "users"' in (await impersonating.json())["message"]


async def test_kubeadms_namespaced_roles_are_there_and_kept_as_users_change_them(cluster):
    registry, rbac = cluster
    account = User("system:serviceaccount:kube-system:kube-scheduler", ("system:authenticated",))
    lease = "apis/coordination.k8s.io/v1/namespaces/{}/leases/kube-scheduler"
    take_lease = attrs(account, "PUT", "/" + lease.format("kube-system"))
    await settled(lambda: rbac.authorize(take_lease).allowed)
    assert not rbac.authorize(attrs(account, "PUT", "/" + lease.format("default"))).allowed
    roles = registry.kinds.get("roles", RBAC)
    name = "extension-apiserver-authentication-reader"
    role = await registry.find(roles, "kube-system", name)
    extra = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
    role["rules"] = [extra]
    await registry.update(roles, "kube-system", name, role)
    await reconcile_bootstrap_policy(registry)
    role = await registry.find(roles, "kube-system", name)
    assert role["rules"][0] == extra and len(role["rules"]) == 2


async def test_one_decision_serves_every_name_unless_rules_name_objects(cluster):
    registry, rbac = cluster
    user = User("erin", ("system:authenticated",))
    roles, bindings = registry.kinds.get("roles", RBAC), registry.kinds.get("rolebindings", RBAC)
    await registry.create(roles, "ns", {"metadata": {"name": "pods"}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["tls"]},
    ]})  # fmt: skip
    await registry.create(bindings, "ns", {
        "metadata": {"name": "erin"}, "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "pods"},
        "subjects": [{"kind": "User", "name": "erin"}],
    })  # fmt: skip
    first = attrs(user, "GET", "/api/v1/namespaces/ns/pods/p0")
    await settled(lambda: rbac.authorize(first).allowed)
    cached = len(rbac._decisions)
    for i in range(100):
        assert rbac.authorize(attrs(user, "GET", f"/api/v1/namespaces/ns/pods/p{i}")).allowed
    assert len(rbac._decisions) == cached  # no decision per pod name
    assert rbac.authorize(attrs(user, "GET", "/api/v1/namespaces/ns/secrets/tls")).allowed
    assert not rbac.authorize(attrs(user, "GET", "/api/v1/namespaces/ns/secrets/other")).allowed
    assert not rbac.authorize(attrs(user, "GET", "/api/v1/namespaces/ns/secrets")).allowed
