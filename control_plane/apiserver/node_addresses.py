"""How the API server finds a kubelet: by its Node's InternalIP, as upstream's default
``--kubelet-preferred-address-types`` starts with. URLs keep the node's name, which its
serving certificate names, so only the address lookup changes: nodes that Docker's DNS does
not know (machines joined over SSH) are reached all the same."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from control_plane.apiserver.registry import Registry


def internal_ip(node: dict[str, Any]) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP" and address.get("address"):
            return str(address["address"])
    return ""


class NodeAddressResolver(AbstractResolver):
    def __init__(self, registry: Registry, fallback: AbstractResolver | None = None) -> None:
        self._registry = registry
        self._fallback = fallback or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        node = await self._registry.find(self._registry.kinds.get("nodes"), "", host)
        address = internal_ip(node) if node is not None else ""
        if not address or address.startswith("127."):
            return await self._fallback.resolve(host, port, family)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        await self._fallback.close()
