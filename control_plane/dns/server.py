"""The DNS server: UDP and TCP on port 53, names under the cluster domain answered from the
records, everything else forwarded to the resolver of the control-plane container (Docker's,
which knows the host's). dnslib does the wire format."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from typing import cast

from dnslib import CNAME, QTYPE, RCODE, RR, SRV, A, DNSRecord
from prometheus_client import CollectorRegistry

from control_plane.dns.metrics import DNSMetrics
from control_plane.dns.records import ClusterRecords

log = logging.getLogger("cluster-dns")

TTL = 5
FORWARD_TIMEOUT = 2.0


class DNSHandler:
    def __init__(
        self,
        records: Callable[[], ClusterRecords],
        upstream: list[str],
        metrics: DNSMetrics | None = None,
    ) -> None:
        self._records = records
        self._upstream = upstream
        self._metrics = metrics or DNSMetrics(CollectorRegistry())

    async def answer(self, packet: bytes, proto: str = "udp") -> bytes | None:
        try:
            request = DNSRecord.parse(packet)
        except Exception:  # dnslib raises its own errors and struct's alike
            return None
        if not request.questions:
            return None
        started = time.perf_counter()
        reply = await self._answer(packet, request)
        qtype = QTYPE.get(request.questions[0].qtype, "other")
        self._metrics.answered(proto, str(qtype), reply, time.perf_counter() - started)
        return reply

    async def _answer(self, packet: bytes, request: DNSRecord) -> bytes:
        question = request.questions[0]
        records = self._records()
        name = str(question.qname)
        reply = request.reply()
        if not records.in_domain(name):
            full = records.short_service_name(name)
            if not full:
                return await self._forward(packet, request)
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(full), ttl=TTL))
            name = full
        found = records.lookup(name)
        if not found.found:
            reply.header.rcode = RCODE.NXDOMAIN
            return bytes(reply.pack())
        qtype = question.qtype
        if found.cname:
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(found.cname), ttl=TTL))
        elif qtype in (QTYPE.A, QTYPE.ANY):
            for ip in found.a:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=TTL))
        elif qtype == QTYPE.SRV:
            for srv in found.srv:
                reply.add_answer(
                    RR(
                        name,
                        QTYPE.SRV,
                        rdata=SRV(srv.priority, srv.weight, srv.port, srv.target),
                        ttl=TTL,
                    )
                )
                target = records.lookup(srv.target)
                for ip in target.a:
                    reply.add_ar(RR(srv.target, QTYPE.A, rdata=A(ip), ttl=TTL))
        return bytes(reply.pack())

    async def _forward(self, packet: bytes, request: DNSRecord) -> bytes:
        for server in self._upstream:
            try:
                return await _ask(server, packet)
            except (TimeoutError, OSError) as e:
                log.info("forwarding %s to %s failed: %s", request.q.qname, server, e)
        reply = request.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, future: asyncio.Future[bytes]) -> None:
        self._future = future

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self._future.done():
            self._future.set_result(data)


async def _ask(server: str, packet: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Reply(future), remote_addr=(server, 53)
    )
    try:
        transport.sendto(packet)
        return await asyncio.wait_for(future, FORWARD_TIMEOUT)
    finally:
        transport.close()


class _UDPServer(asyncio.DatagramProtocol):
    def __init__(self, handler: DNSHandler) -> None:
        self._handler = handler
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport has DatagramTransport's methods, not its class.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self._handler.answer(data)
        except Exception:
            log.exception("answering %s failed", addr[0])
            return
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)


async def _tcp_client(
    handler: DNSHandler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = await handler.answer(await reader.readexactly(length), "tcp")
            if reply is None:
                break
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(handler: DNSHandler, host: str, port: int, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(
        lambda: _UDPServer(handler), local_addr=(host, port)
    )
    tcp = await asyncio.start_server(lambda r, w: _tcp_client(handler, r, w), host, port)
    log.info("serving DNS on %s:%d (UDP and TCP)", host, port)
    try:
        await stop.wait()
    finally:
        udp.close()
        tcp.close()
