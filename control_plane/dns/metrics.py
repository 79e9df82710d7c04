"""The cluster DNS's metrics under CoreDNS's names (what kube-dns dashboards read):
requests by protocol and type, responses by rcode, and how long answers took."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: CoreDNS's request duration buckets: 0.25 ms doubling, 16 of them.
DURATION_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
ZONE = "."


class DNSMetrics:
    def __init__(self, registry: CollectorRegistry, server: str = "dns://:53") -> None:
        self._server = server
        self.requests = Counter(
            "coredns_dns_requests_total",
            "Counter of DNS requests made per zone, protocol and family.",
            ["server", "zone", "view", "proto", "family", "type"],
            registry=registry,
        )
        self.responses = Counter(
            "coredns_dns_responses_total",
            "Counter of response status codes.",
            ["server", "zone", "view", "rcode", "plugin"],
            registry=registry,
        )
        self.durations = Histogram(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            ["server", "zone", "view", "type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    def answered(self, proto: str, qtype: str, reply: bytes | None, seconds: float) -> None:
        self.requests.labels(self._server, ZONE, "", proto, "1", qtype).inc()
        self.durations.labels(self._server, ZONE, "", qtype).observe(seconds)
        if reply is not None and len(reply) >= 4:
            rcode = RCODES.get(reply[3] & 0x0F, str(reply[3] & 0x0F))
            self.responses.labels(self._server, ZONE, "", rcode, "").inc()
