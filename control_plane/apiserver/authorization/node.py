"""The Node authorizer for the HTTP API: what a kubelet's identity may do there.

Kubelets speak to the control plane over the gRPC node service, which applies its own rule
(a node reads only what pods bound to it reference). Over HTTP a node's identity is used
by its kube-proxy, so a node may read the cluster's services and nodes, write its own Node
and Lease and events; Secrets, ConfigMaps and tokens are left to RBAC, which grants nodes
none of them.
"""

from __future__ import annotations

from control_plane.apiserver.authorization.attributes import RequestAttributes
from control_plane.apiserver.authorization.bootstrap_policy import READ, rule
from control_plane.apiserver.authorization.rules import rule_allows

NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"

_ANY_NODE = [
    rule([""], ["nodes", "services", "endpoints", "pods"], READ),
    rule(["discovery.k8s.io"], ["endpointslices"], READ),
    rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
    rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
]


def node_name(attrs: RequestAttributes) -> str | None:
    user = attrs.user
    if NODES_GROUP not in user.groups or not user.name.startswith(NODE_PREFIX):
        return None
    return user.name[len(NODE_PREFIX) :]


def node_allows(attrs: RequestAttributes) -> bool:
    name = node_name(attrs)
    if name is None:
        return False
    if any(rule_allows(r, attrs) for r in _ANY_NODE):
        return True
    own = attrs.name == name
    if attrs.api_group == "" and attrs.resource == "nodes" and own:
        return attrs.verb in ("get", "update", "patch") and attrs.subresource in ("", "status")
    if attrs.api_group == "coordination.k8s.io" and attrs.resource == "leases":
        return attrs.namespace == "kube-node-lease" and own and attrs.verb in (
            "get", "update", "patch", "create", "delete"
        )  # fmt: skip
    return False
