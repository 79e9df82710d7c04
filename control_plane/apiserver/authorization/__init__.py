"""Whether the authenticated user may do what a request asks.

The request is first described in authorization attributes (verb, API group, resource,
subresource, namespace, name, or a non-resource path), as kube-apiserver's RequestInfo
does; then authorizers are asked in upstream's order: system:masters, Node, RBAC.
"""
