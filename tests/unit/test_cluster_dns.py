"""The cluster DNS: which names exist and what they answer, over the wire format."""

from __future__ import annotations

from dnslib import QTYPE, RCODE, DNSRecord
from prometheus_client import CollectorRegistry

from control_plane.dns.metrics import DNSMetrics
from control_plane.dns.records import ClusterRecords
from control_plane.dns.server import DNSHandler

SERVICES = [
    {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "clusterIP": "10.96.5.5",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
    },
    {"metadata": {"name": "db", "namespace": "shop"}, "spec": {"clusterIP": "None"}},
    {
        "metadata": {"name": "search", "namespace": "shop"},
        "spec": {"type": "ExternalName", "externalName": "search.example.com"},
    },
]
SLICES = [
    {
        "metadata": {"namespace": "shop", "labels": {"kubernetes.io/service-name": "db"}},
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": ["10.244.1.7"], "hostname": "db-0", "conditions": {"ready": True}},
            {"addresses": ["10.244.2.9"], "conditions": {"ready": True}},
            {"addresses": ["10.244.2.10"], "conditions": {"ready": False}},
        ],
    }
]


def records() -> ClusterRecords:
    return ClusterRecords.build(SERVICES, SLICES)


def test_services_headless_services_and_pods_resolve():
    r = records()
    assert r.lookup("web.shop.svc.cluster.local.").a == ["10.96.5.5"]
    assert r.lookup("db.shop.svc.cluster.local").a == ["10.244.1.7", "10.244.2.9"]
    assert r.lookup("db-0.db.shop.svc.cluster.local").a == ["10.244.1.7"]
    assert r.lookup("10-244-2-9.db.shop.svc.cluster.local").a == ["10.244.2.9"]
    assert r.lookup("10-244-3-4.anything.pod.cluster.local").a == ["10.244.3.4"]
    assert r.lookup("search.shop.svc.cluster.local").cname == "search.example.com"
    [srv] = r.lookup("_http._tcp.web.shop.svc.cluster.local").srv
    assert (srv.port, srv.target) == (80, "web.shop.svc.cluster.local")
    assert {s.target for s in r.lookup("_pg._tcp.db.shop.svc.cluster.local").srv} == {
        "db-0.db.shop.svc.cluster.local",
        "10-244-2-9.db.shop.svc.cluster.local",
    }


def test_unknown_names_do_not_exist_but_parents_do():
    r = records()
    assert not r.lookup("nope.shop.svc.cluster.local").found
    assert not r.lookup("10-244-2-10.db.shop.svc.cluster.local").found  # not ready
    empty = r.lookup("shop.svc.cluster.local")
    assert empty.found and empty.a == []
    assert r.short_service_name("web.shop") == "web.shop.svc.cluster.local"
    assert r.short_service_name("web.example") == ""


async def ask(handler: DNSHandler, name: str, qtype: str = "A") -> DNSRecord:
    reply = await handler.answer(bytes(DNSRecord.question(name, qtype).pack()))
    assert reply is not None
    return DNSRecord.parse(reply)


async def test_the_wire_answers_a_srv_nxdomain_and_the_short_name():
    registry = CollectorRegistry()
    handler = DNSHandler(records, upstream=[], metrics=DNSMetrics(registry))
    a = await ask(handler, "web.shop.svc.cluster.local")
    assert [str(rr.rdata) for rr in a.rr] == ["10.96.5.5"] and a.rr[0].ttl == 5
    srv = await ask(handler, "_http._tcp.web.shop.svc.cluster.local", "SRV")
    assert srv.rr[0].rtype == QTYPE.SRV and srv.rr[0].rdata.port == 80
    assert [str(rr.rdata) for rr in srv.ar] == ["10.96.5.5"]
    missing = await ask(handler, "nope.shop.svc.cluster.local")
    assert missing.header.rcode == RCODE.NXDOMAIN
    short = await ask(handler, "web.shop")
    assert [rr.rtype for rr in short.rr] == [QTYPE.CNAME, QTYPE.A]
    outside = await ask(handler, "example.com")  # no upstream to ask here
    assert outside.header.rcode == RCODE.SERVFAIL
    assert await handler.answer(b"\x00garbage") is None
    # Counted under CoreDNS's names.
    requests = {"server": "dns://:53", "zone": ".", "view": "", "proto": "udp", "family": "1"}
    assert registry.get_sample_value("coredns_dns_requests_total", {**requests, "type": "A"}) == 4
    assert registry.get_sample_value("coredns_dns_requests_total", {**requests, "type": "SRV"}) == 1
    responses = {"server": "dns://:53", "zone": ".", "view": "", "plugin": ""}
    nxdomain = registry.get_sample_value(
        "coredns_dns_responses_total", {**responses, "rcode": "NXDOMAIN"}
    )
    assert nxdomain == 1
