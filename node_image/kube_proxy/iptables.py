"""The node's iptables, driven through its command-line tools: one ``iptables-restore`` per
sync (atomic per table), the jumps from the built-in chains, and clean-up."""

from __future__ import annotations

import asyncio
import logging

from node_image.kube_proxy.rules import JUMPS, OWN_PREFIXES

log = logging.getLogger("kube-proxy")


class IPTablesError(RuntimeError):
    pass


async def _run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    return process.returncode or 0, out.decode(), err.decode().strip()


class IPTables:
    def __init__(self, binary: str = "iptables") -> None:
        self._binary = binary

    async def restore(self, text: str) -> None:
        """Apply rules without touching chains they do not name (our chains only)."""
        code, _, err = await _run(f"{self._binary}-restore", "--noflush", "-w", "5", stdin=text)
        if code != 0:
            raise IPTablesError(f"{self._binary}-restore failed: {err}")

    async def own_chains(self, table: str, prefixes: tuple[str, ...] = OWN_PREFIXES) -> set[str]:
        code, out, err = await _run(f"{self._binary}-save", "-t", table)
        if code != 0:
            raise IPTablesError(f"{self._binary}-save failed: {err}")
        return {
            line[1:].split()[0]
            for line in out.splitlines()
            if line.startswith(":") and line[1:].startswith(prefixes)
        }

    async def ensure_first(self, table: str, chain: str, rule: tuple[str, ...]) -> None:
        """The rule at the head of a built-in chain, unless it is there already."""
        if (await _run(self._binary, "-w", "5", "-t", table, "-C", chain, *rule))[0] == 0:
            return
        code, _, err = await _run(self._binary, "-w", "5", "-t", table, "-I", chain, "1", *rule)
        if code != 0:
            raise IPTablesError(f"cannot add {table}/{chain} {' '.join(rule)}: {err}")

    async def remove(self, table: str, chain: str, rule: tuple[str, ...]) -> None:
        while (await _run(self._binary, "-w", "5", "-t", table, "-D", chain, *rule))[0] == 0:
            pass

    async def ensure_jumps(self) -> None:
        # Our chains must exist before a rule can jump to them.
        await self.restore(
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\nCOMMIT\n"
            "*filter\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\nCOMMIT\n"
        )
        for table, chain, rule in JUMPS:
            code, _, _ = await _run(self._binary, "-w", "5", "-t", table, "-C", chain, *rule)
            if code == 0:
                continue
            code, _, err = await _run(self._binary, "-w", "5", "-t", table, "-I", chain, *rule)
            if code != 0:
                raise IPTablesError(f"cannot add the jump {table}/{chain} -> {rule[-1]}: {err}")

    async def remove_jumps(self) -> None:
        for table, chain, rule in JUMPS:
            await self.remove(table, chain, rule)

    async def supports(self, *match: str) -> bool:
        """Whether the kernel takes a rule with these match arguments."""
        probe = "KUBE-PROBE"
        await _run(self._binary, "-w", "5", "-t", "filter", "-N", probe)
        code, _, _ = await _run(self._binary, "-w", "5", "-t", "filter", "-A", probe, *match)
        await _run(self._binary, "-w", "5", "-t", "filter", "-F", probe)
        await _run(self._binary, "-w", "5", "-t", "filter", "-X", probe)
        return code == 0
