"""kube-proxy's metrics with upstream's names (prefix ``kubeproxy_``) and buckets: how long
each rule sync took, when the last one ran and when a change last asked for one, the rule
counts, failed restores, and the Service and EndpointSlice changes that fed them."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SYNC_BUCKETS = tuple(0.001 * 2**i for i in range(15))


class ProxyMetrics:
    def __init__(
        self, registry: CollectorRegistry, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._now = wall_clock

        def histogram(name: str, text: str) -> Histogram:
            return Histogram(name, text, buckets=SYNC_BUCKETS, registry=registry)

        self.sync_duration = histogram(
            "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds"
        )
        self.full_sync_duration = histogram(
            "kubeproxy_sync_full_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for full resyncs",
        )
        self.last_sync = Gauge(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            registry=registry,
        )
        self.last_queued = Gauge(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued",
            registry=registry,
        )
        self.restore_failures = Counter(
            "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
            "Cumulative proxy iptables restore failures",
            registry=registry,
        )
        self.rules = Gauge(
            "kubeproxy_sync_proxy_rules_iptables_total",
            "Total number of iptables rules owned by kube-proxy",
            ["table"],
            registry=registry,
        )
        self.service_changes = Counter(
            "kubeproxy_sync_proxy_rules_service_changes_total",
            "Cumulative proxy rules Service changes",
            registry=registry,
        )
        self.endpoint_changes = Counter(
            "kubeproxy_sync_proxy_rules_endpoint_changes_total",
            "Cumulative proxy rules Endpoint changes",
            registry=registry,
        )

    def queued(self) -> None:
        self.last_queued.set(self._now())

    def synced(self, seconds: float, rules: dict[str, int]) -> None:
        self.sync_duration.observe(seconds)
        self.full_sync_duration.observe(seconds)  # every sync here renders the whole set
        self.last_sync.set(self._now())
        for table, count in rules.items():
            self.rules.labels(table).set(count)
