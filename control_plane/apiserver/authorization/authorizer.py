"""The authorizer chain in kube-apiserver's order: system:masters, Node, then RBAC."""

from __future__ import annotations

from control_plane.apiserver.authorization.attributes import RequestAttributes
from control_plane.apiserver.authorization.node import node_allows
from control_plane.apiserver.authorization.rbac import Decision, RBACAuthorizer

MASTERS = "system:masters"


class Authorizer:
    def __init__(self, rbac: RBACAuthorizer) -> None:
        self.rbac = rbac

    def authorize(self, attrs: RequestAttributes) -> Decision:
        if MASTERS in attrs.user.groups:
            return Decision(True)
        if node_allows(attrs):
            return Decision(True)
        return self.rbac.authorize(attrs)
