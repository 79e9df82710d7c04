"""The roles and bindings a kubeadm cluster of 1.33 starts with, and ku7s' few additions.

Written from the documented default roles: the user-facing ``cluster-admin``, ``admin``,
``edit`` and ``view`` (the last three aggregated from the ``system:aggregate-to-*`` roles
through their labels), the discovery and public-info roles every client needs, and the
roles of the control-plane components, which run under their own names. ku7s' kube-proxy
speaks with its node's identity, so the node group gets ``system:node-proxier`` too, and
the gateways that join Docker hosts (group ``ku7s:gateways``) get ``ku7s:gateway``.
"""

from __future__ import annotations

from typing import Any

from control_plane.apiserver.kinds.rbac import GROUP

Object = dict[str, Any]

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
#: Bootstrap objects carry this label, and the annotation that lets reconciliation add
#: what is missing at start-up.
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> Object:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def urls(paths: list[str], verbs: list[str]) -> Object:
    return {"nonResourceURLs": paths, "verbs": verbs}


#: Recording events, which every component does.
_EVENTS = rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"])


def cluster_role(
    name: str,
    rules: list[Object],
    labels: dict[str, str] | None = None,
    *,
    namespace: str = "",
    **extra: Any,
) -> Object:
    """A bootstrap ClusterRole, or a Role when a namespace is given."""
    metadata: Object = {
        "name": name,
        "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
        "annotations": {AUTOUPDATE: "true"},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Role" if namespace else "ClusterRole",
        "metadata": metadata,
        "rules": rules,
        **extra,
    }


def aggregated(name: str, label: str, labels: dict[str, str] | None = None) -> Object:
    selector = {"matchLabels": {f"{AGGREGATE}{label}": "true"}}
    return cluster_role(name, [], labels, aggregationRule={"clusterRoleSelectors": [selector]})


def binding(name: str, role: str, subjects: list[Object], *, namespace: str = "") -> Object:
    """A bootstrap ClusterRoleBinding, or a RoleBinding to a Role when a namespace is given."""
    metadata: Object = {
        "name": name,
        "labels": dict(BOOTSTRAP_LABELS),
        "annotations": {AUTOUPDATE: "true"},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": GROUP, "kind": "Role" if namespace else "ClusterRole",
                    "name": role},
        "subjects": subjects,
    }  # fmt: skip


def group(name: str) -> Object:
    return {"apiGroup": GROUP, "kind": "Group", "name": name}


def user(name: str) -> Object:
    return {"apiGroup": GROUP, "kind": "User", "name": name}


def service_account(namespace: str, name: str) -> Object:
    return {"kind": "ServiceAccount", "namespace": namespace, "name": name}


_VIEW = [
    rule(
        [""],
        ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
         "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
         "services", "services/status"],
        READ,
    ),
    rule(
        [""],
        ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
         "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"],
        READ,
    ),
    rule([""], ["namespaces"], READ),
    rule(["discovery.k8s.io"], ["endpointslices"], READ),
    rule(
        ["apps"],
        ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
         "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
         "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"],
        READ,
    ),
    rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
]  # fmt: skip

_EDIT = [
    rule(
        [""],
        ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
         "services/proxy"],
        READ,
    ),
    rule([""], ["serviceaccounts"], ["impersonate"]),
    rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    rule([""], ["pods/eviction"], ["create"]),
    rule(
        [""],
        ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
         "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
         "services/proxy"],
        WRITE,
    ),
    rule([""], ["serviceaccounts/token"], ["create"]),
    rule(
        ["apps"],
        ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
         "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
        WRITE,
    ),
    rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    rule(["batch"], ["cronjobs", "jobs"], WRITE),
    rule(["policy"], ["poddisruptionbudgets"], WRITE),
    rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    rule(["coordination.k8s.io"], ["leases"], ALL),
]  # fmt: skip

_ADMIN = [
    rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    rule([GROUP], ["rolebindings", "roles"], ALL),
]

_SELF_REVIEWS = [
    rule(
        ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        ["create"],
    ),
    rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
]  # fmt: skip

_PUBLIC_INFO = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

_SCHEDULER = [
    _EVENTS,
    rule(["coordination.k8s.io"], ["leases"], ["create"]),
    rule(["coordination.k8s.io"], ["leases"], ["get", "update"],
         resourceNames=["kube-scheduler"]),
    rule([""], ["endpoints"], ["create"]),
    rule([""], ["endpoints"], ["get", "update"], resourceNames=["kube-scheduler"]),
    rule([""], ["nodes"], READ),
    rule([""], ["pods"], ["delete", "get", "list", "watch"]),
    rule([""], ["bindings", "pods/binding"], ["create"]),
    rule([""], ["pods/status"], ["patch", "update"]),
    rule([""], ["replicationcontrollers", "services"], READ),
    rule(["apps", "extensions"], ["replicasets"], READ),
    rule(["apps"], ["statefulsets"], READ),
    rule(["policy"], ["poddisruptionbudgets"], READ),
    rule([""], ["persistentvolumeclaims", "persistentvolumes"], READ),
    rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
    rule(["storage.k8s.io"], ["csinodes", "csidrivers", "csistoragecapacities",
                              "storageclasses"], READ),
    rule([""], ["namespaces", "configmaps"], READ),
    rule(["resource.k8s.io"], ["*"], READ),
    rule(["metrics.k8s.io"], ["pods", "nodes"], READ),
]  # fmt: skip

_NODE_PROXIER = [
    rule([""], ["endpoints", "services"], ["list", "watch"]),
    rule([""], ["nodes"], READ),
    _EVENTS,
    rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
]

#: What ku7s' kube-proxy and pod routes read with the node's identity: kubeadm's kube-proxy
#: ConfigMap and the record of the cluster's Docker hosts.
_NODE_NETWORK = [
    rule([""], ["configmaps"], READ, resourceNames=["kube-proxy", "ku7s-docker-hosts"]),
]

#: What each node's policy agent (in the kube-proxy process) follows to enforce policies.
_NETWORK_POLICY_AGENT = [
    rule([""], ["namespaces", "pods"], ["list", "watch"]),
    rule(["networking.k8s.io"], ["networkpolicies"], ["list", "watch"]),
]

_COREDNS = [
    rule([""], ["endpoints", "services", "pods", "namespaces"], ["list", "watch"]),
    rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
]

#: ku7s' cluster DNS registers its own kube-dns Service and endpoints (kubeadm's addon
#: phase does it as admin), so its identity may create those and keep them up to date.
_CLUSTER_DNS_REGISTRATION = [
    rule([""], ["services", "endpoints"], ["create"]),
    rule(["discovery.k8s.io"], ["endpointslices"], ["create"]),
    rule([""], ["services", "endpoints"], ["get", "update"], resourceNames=["kube-dns"]),
    rule(["discovery.k8s.io"], ["endpointslices"], ["get", "update"], resourceNames=["kube-dns"]),
]

_MONITORING = [urls(["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                     "/metrics/slis", "/readyz", "/readyz/*"], ["get"])]  # fmt: skip

#: The controller manager runs every controller under one name here (upstream's
#: --use-service-account-credentials=false), and the cloud controller manager makes nodes'
#: load balancers and addresses: both may do anything, as kubeadm's do in effect.
_EVERYTHING = [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]

#: Upstream's role for the controller manager's own identity; its controllers there run as
#: service accounts with roles of their own.
_CONTROLLER_MANAGER = [
    _EVENTS,
    rule(["coordination.k8s.io"], ["leases"], ["create"]),
    rule(["coordination.k8s.io"], ["leases"], ["get", "update"],
         resourceNames=["kube-controller-manager"]),
    rule([""], ["secrets", "serviceaccounts"], ["create"]),
    rule([""], ["secrets"], ["delete"]),
    rule([""], ["configmaps", "namespaces", "secrets", "serviceaccounts"], ["get"]),
    rule([""], ["secrets", "serviceaccounts"], ["update"]),
    rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
    rule(["*"], ["*"], ["list", "watch"]),
    rule([""], ["serviceaccounts/token"], ["create"]),
]  # fmt: skip
#: What the scheduler's volume binding needs besides reading: naming the node on a claim.
_VOLUME_SCHEDULER = [
    rule([""], ["persistentvolumes"], ["get", "list", "patch", "update", "watch"]),
    rule(["storage.k8s.io"], ["storageclasses"], READ),
    rule([""], ["persistentvolumeclaims"], ["get", "list", "patch", "update", "watch"]),
]  # fmt: skip
_LEADER_LOCKING = [
    rule(["coordination.k8s.io"], ["leases", "leasecandidates"],
         ["create", "get", "list", "update", "watch"]),
]  # fmt: skip


def cluster_roles() -> list[Object]:
    return [
        cluster_role("cluster-admin", _EVERYTHING),
        aggregated("admin", "admin"),
        aggregated("edit", "edit", {f"{AGGREGATE}admin": "true"}),
        aggregated("view", "view", {f"{AGGREGATE}edit": "true"}),
        cluster_role("system:aggregate-to-admin", _ADMIN, {f"{AGGREGATE}admin": "true"}),
        cluster_role("system:aggregate-to-edit", _EDIT, {f"{AGGREGATE}edit": "true"}),
        cluster_role("system:aggregate-to-view", _VIEW, {f"{AGGREGATE}view": "true"}),
        cluster_role("system:basic-user", _SELF_REVIEWS),
        cluster_role(
            "system:discovery",
            [
                urls(
                    [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                    ["get"],
                )
            ],
        ),
        cluster_role("system:public-info-viewer", [urls(_PUBLIC_INFO, ["get"])]),
        cluster_role(
            "system:service-account-issuer-discovery",
            [
                urls(
                    [
                        "/.well-known/openid-configuration",
                        "/.well-known/openid-configuration/",
                        "/openid/v1/jwks",
                        "/openid/v1/jwks/",
                    ],
                    ["get"],
                )
            ],
        ),
        cluster_role("system:monitoring", _MONITORING),
        cluster_role("system:kube-scheduler", _SCHEDULER),
        cluster_role("system:kube-controller-manager", _CONTROLLER_MANAGER),
        cluster_role("system:volume-scheduler", _VOLUME_SCHEDULER),
        # ku7s runs every controller under the controller manager's one identity, so that
        # identity holds what upstream's per-controller roles hold between them.
        cluster_role("ku7s:controller-manager", _EVERYTHING),
        cluster_role("system:cloud-controller-manager", _EVERYTHING),
        cluster_role("system:node-proxier", _NODE_PROXIER),
        cluster_role("ku7s:node-network", _NODE_NETWORK),
        cluster_role("ku7s:network-policy-agent", _NETWORK_POLICY_AGENT),
        cluster_role("system:coredns", _COREDNS),
        cluster_role("ku7s:cluster-dns-registration", _CLUSTER_DNS_REGISTRATION),
        cluster_role(
            "ku7s:gateway",
            [
                rule([""], ["configmaps"], [*READ, "update", "patch"]),
                rule([""], ["nodes", "pods"], READ),
            ],
        ),
        cluster_role(
            "system:auth-delegator",
            [
                rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
            ],
        ),
        cluster_role(
            "system:node-bootstrapper",
            [
                rule(
                    ["certificates.k8s.io"],
                    ["certificatesigningrequests"],
                    ["create", "get", "list", "watch"],
                )
            ],
        ),
    ]


def cluster_role_bindings() -> list[Object]:
    authenticated, unauthenticated = group("system:authenticated"), group("system:unauthenticated")
    return [
        binding("cluster-admin", "cluster-admin", [group("system:masters")]),
        binding("system:basic-user", "system:basic-user", [authenticated]),
        binding("system:discovery", "system:discovery", [authenticated]),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [authenticated, unauthenticated],
        ),
        binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            [group("system:serviceaccounts")],
        ),
        binding("system:monitoring", "system:monitoring", [group("system:monitoring")]),
        binding("system:kube-scheduler", "system:kube-scheduler", [user("system:kube-scheduler")]),
        binding(
            "system:volume-scheduler", "system:volume-scheduler", [user("system:kube-scheduler")]
        ),
        binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [user("system:kube-controller-manager")],
        ),
        binding(
            "ku7s:controller-manager",
            "ku7s:controller-manager",
            [user("system:kube-controller-manager")],
        ),
        binding(
            "system:cloud-controller-manager",
            "system:cloud-controller-manager",
            [user("system:cloud-controller-manager")],
        ),
        binding("system:node-proxier", "system:node-proxier", [user("system:kube-proxy")]),
        binding(
            "kubeadm:node-proxier",
            "system:node-proxier",
            [service_account("kube-system", "kube-proxy")],
        ),
        binding("ku7s:node-proxier", "system:node-proxier", [group("system:nodes")]),
        binding("ku7s:node-network", "ku7s:node-network", [group("system:nodes")]),
        binding("ku7s:network-policy-agent", "ku7s:network-policy-agent", [group("system:nodes")]),
        binding("ku7s:gateway", "ku7s:gateway", [group("ku7s:gateways")]),
        binding("system:coredns", "system:coredns", [service_account("kube-system", "coredns")]),
        binding(
            "ku7s:cluster-dns-registration",
            "ku7s:cluster-dns-registration",
            [service_account("kube-system", "coredns")],
        ),
        binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:node-bootstrapper",
            [group("system:bootstrappers:kubeadm:default-node-token")],
        ),
    ]


def roles() -> list[Object]:
    """The namespaced roles a kubeadm cluster starts with (in kube-system, kube-public)."""
    system, public = "kube-system", "kube-public"
    return [
        cluster_role(
            "extension-apiserver-authentication-reader",
            [rule([""], ["configmaps"], READ,
                  resourceNames=["extension-apiserver-authentication"])],
            namespace=system,
        ),
        cluster_role("system::leader-locking-kube-controller-manager", _LEADER_LOCKING,
                     namespace=system),
        cluster_role("system::leader-locking-kube-scheduler", _LEADER_LOCKING, namespace=system),
        cluster_role("system:controller:bootstrap-signer", [rule([""], ["secrets"], READ)],
                     namespace=system),
        cluster_role("system:controller:cloud-provider",
                     [rule([""], ["configmaps"], ["create", "get", "list", "watch"])],
                     namespace=system),
        cluster_role("system:controller:token-cleaner",
                     [rule([""], ["secrets"], ["delete", "get", "list", "watch"]), _EVENTS],
                     namespace=system),
        cluster_role(
            "system:controller:bootstrap-signer",
            [rule([""], ["configmaps"], READ),
             rule([""], ["configmaps"], ["update"], resourceNames=["cluster-info"]),
             _EVENTS],
            namespace=public,
        ),
    ]  # fmt: skip


def role_bindings() -> list[Object]:
    system, public = "kube-system", "kube-public"
    controller_manager, scheduler = (
        user("system:kube-controller-manager"),
        user("system:kube-scheduler"),
    )
    return [
        binding("system::extension-apiserver-authentication-reader",
                "extension-apiserver-authentication-reader", [controller_manager, scheduler],
                namespace=system),
        binding("system::leader-locking-kube-controller-manager",
                "system::leader-locking-kube-controller-manager",
                [controller_manager, service_account(system, "kube-controller-manager"),
                 service_account(system, "leader-election-controller")],
                namespace=system),
        binding("system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
                [scheduler, service_account(system, "kube-scheduler")], namespace=system),
        *(
            binding(f"system:controller:{name}", f"system:controller:{name}",
                    [service_account(system, name)], namespace=system)
            for name in ("bootstrap-signer", "cloud-provider", "token-cleaner")
        ),
        binding("system:controller:bootstrap-signer", "system:controller:bootstrap-signer",
                [service_account(system, "bootstrap-signer")], namespace=public),
    ]  # fmt: skip
