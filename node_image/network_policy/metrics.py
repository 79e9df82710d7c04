"""The policy agent's metrics, on kube-proxy's endpoint (the process they share): how long
each applied sync took, how many of the node's pods are guarded in each direction, the
rules written, and failed restores. Upstream has no standard names for these; ours carry
the ``ku7s_`` prefix."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from node_image.kube_proxy.metrics import SYNC_BUCKETS


class PolicyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sync_duration = Histogram(
            "ku7s_network_policy_sync_duration_seconds",
            "Time to render and apply the node's network policy rules",
            buckets=SYNC_BUCKETS,
            registry=registry,
        )
        self.guarded_pods = Gauge(
            "ku7s_network_policy_guarded_pods",
            "Pods of this node that a network policy selects, per direction",
            ["direction"],
            registry=registry,
        )
        self.rules = Gauge(
            "ku7s_network_policy_iptables_rules",
            "iptables rules the policy agent keeps",
            registry=registry,
        )
        self.restore_failures = Counter(
            "ku7s_network_policy_restore_failures_total",
            "Policy syncs whose iptables-restore failed",
            registry=registry,
        )

    def synced(self, seconds: float, chains: list[str], rules: int) -> None:
        self.sync_duration.observe(seconds)
        self.rules.set(rules)
        for direction, prefix in (("ingress", "KU7S-NPI-"), ("egress", "KU7S-NPE-")):
            self.guarded_pods.labels(direction).set(sum(c.startswith(prefix) for c in chains))
