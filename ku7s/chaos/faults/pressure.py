"""Resource pressure inside nodes: ``cpu-burn`` runs busy loops and ``memory-fill`` holds
touched memory, as processes in the node's container, so they share its CPU and memory limits
with the kubelet and the pods. Each process is tagged with the fault's id (so revert finds
it) and ends by itself at the end of the duration, even if the run that started it died."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, NotFoundError

PRESSURE_KINDS = ("cpu-burn", "memory-fill")

#: argv[1] is the tag, argv[2] the seconds to live, argv[3] the bytes to hold (memory-fill).
_BURN = "import sys, time\nend = time.time() + float(sys.argv[2])\nwhile time.time() < end: pass\n"
_FILL = (
    "import sys, time\n"
    "end = time.time() + float(sys.argv[2])\n"
    "held = bytearray(int(sys.argv[3]))\n"
    "for i in range(0, len(held), 4096): held[i] = 1\n"
    "time.sleep(max(0.0, end - time.time()))\n"
)


@dataclass
class PressureFault:
    kind: str
    engines: ClusterEngines
    targets: list[str] = field(default_factory=list)
    #: Busy loops per node (cpu-burn).
    workers: int = 1
    #: Bytes held per node (memory-fill).
    size: int = 0
    #: How long the processes live on their own.
    seconds: float = 30.0
    tag: str = field(default_factory=lambda: f"ku7s-chaos-{secrets.token_hex(4)}")

    @property
    def reversible(self) -> bool:
        return True

    def parameters(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "size": self.size,
            "seconds": self.seconds,
            "tag": self.tag,
        }

    def _start(self) -> None:
        script, extra = (_BURN, []) if self.kind == "cpu-burn" else (_FILL, [str(self.size)])
        copies = self.workers if self.kind == "cpu-burn" else 1
        for node in self.targets:
            container = self.engines.container(node)
            for _ in range(copies):
                argv = ["python3", "-c", script, self.tag, str(self.seconds), *extra]
                container.exec_run(argv, detach=True)

    def _stop(self) -> None:
        for node in self.targets:
            try:
                container = self.engines.container(node)
            except NotFoundError:  # a node removed meanwhile has nothing to stop
                continue
            result = container.exec_run(["pkill", "-f", self.tag])
            if result.exit_code not in (0, 1):  # 1: none left (they ended on time)
                raise Ku7sError(f"cannot stop the {self.kind} processes on {node}")

    async def inject(self) -> None:
        await asyncio.to_thread(self._start)

    async def revert(self) -> None:
        await asyncio.to_thread(self._stop)
