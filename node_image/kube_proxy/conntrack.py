"""Stale UDP flows: conntrack remembers where a UDP "connection" was sent, so after an
endpoint goes, its clients would keep sending to it until the entry times out. Upstream's
kube-proxy deletes those entries; so does this, with the ``conntrack`` tool."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from node_image.kube_proxy.service_ports import ServicePort

log = logging.getLogger("kube-proxy")

#: (cluster IP, port) of a UDP Service -> the endpoint addresses it sends to.
UDPTargets = dict[tuple[str, int], frozenset[str]]


def udp_targets(ports: list[ServicePort]) -> UDPTargets:
    return {
        (sp.cluster_ip, sp.port): frozenset(e.ip for e in sp.usable_endpoints())
        for sp in ports
        if sp.protocol == "UDP"
    }


@dataclass(frozen=True)
class Flush:
    """conntrack -D filters: flows to the cluster IP and port, optionally only those NATed to
    one endpoint."""

    cluster_ip: str
    port: int
    endpoint: str = ""

    def argv(self) -> list[str]:
        argv = ["-D", "-p", "udp", "--orig-dst", self.cluster_ip, "--orig-port-dst", str(self.port)]
        return argv + (["--dst-nat", self.endpoint] if self.endpoint else [])


def stale_flows(before: UDPTargets, after: UDPTargets) -> list[Flush]:
    flushes: list[Flush] = []
    for key, endpoints in after.items():
        old = before.get(key, frozenset())
        if endpoints and not old:
            # Flows begun while the Service had no endpoint were never NATed: start afresh.
            flushes.append(Flush(*key))
        flushes += [Flush(*key, gone) for gone in sorted(old - endpoints)]
    for key, old in before.items():
        if key not in after:
            flushes += [Flush(*key, gone) for gone in sorted(old)]
    return flushes


class Conntrack:
    async def delete(self, flush: Flush) -> None:
        process = await asyncio.create_subprocess_exec(
            "conntrack",
            *flush.argv(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        # 1 means nothing matched, which is the common case.
        if process.returncode not in (0, 1):
            log.warning("conntrack %s failed: %s", " ".join(flush.argv()), err.decode().strip())
