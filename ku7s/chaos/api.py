"""Fault injection from Python: every fault as a context manager that injects on entry and
reverts on exit (also when the block raises), or at the end of its duration if that comes
first.

    with cluster.chaos.partition(["dev-worker"], target="control-plane"):
        ...  # the worker is cut off here
    # and joined again here

The API is synchronous, for tests: an event loop in a thread of its own runs the faults
(and holds them while the caller's code runs).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from ku7s.chaos.request import FaultRequest, prepare
from ku7s.chaos.runner import Chaos
from ku7s.chaos.selection import Selection
from ku7s.client.rest import APIClient
from ku7s.cluster.engines import ClusterEngines
from ku7s.cluster.providers.docker import DockerProvider

T = TypeVar("T")

#: How long a fault holds when the block does not end it first (a day: "until exit").
UNTIL_EXIT = 86400.0


class ChaosAPI:
    def __init__(self, provider: DockerProvider, kubeconfig: dict[str, Any], cluster: str) -> None:
        self._engines = ClusterEngines(provider, cluster)
        self._kubeconfig = kubeconfig
        self._cluster = cluster
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._chaos: Chaos | None = None
        self._client: APIClient | None = None
        #: Faults in force, so that revert_all() can end every one.
        self._active: set[ActiveFault] = set()
        self.log: list[str] = []

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    async def _ensure(self) -> Chaos:
        if self._chaos is None:
            self._client = APIClient.from_kubeconfig(self._kubeconfig, timeout=30)
            await self._client.__aenter__()
            self._chaos = Chaos(self._engines, self._client, say=self.log.append)
        return self._chaos

    def fault(
        self,
        kind: str,
        targets: Sequence[str] | str = (),
        *,
        duration: float | None = None,
        labels: str = "",
        mode: str = "all",
        value: int | None = None,
        seed: int | None = None,
        component: str = "",
        namespace: str = "default",
        **options: Any,
    ) -> ActiveFault:
        """Any fault by kind, with the command line's options as keywords; it is in force
        from `with` (or .inject()) until the block ends (or .revert())."""
        request = FaultRequest(
            kind,
            [targets] if isinstance(targets, str) else list(targets),
            labels,
            Selection.parse(mode, value, seed),
            duration or UNTIL_EXIT,
            component,
            namespace,
            options,
        )
        return ActiveFault(self, request)

    async def _hold(self, request: FaultRequest, injected: threading.Event) -> None:
        chaos = await self._ensure()
        fault = await prepare(chaos, self._cluster, request)
        await chaos.run(fault, request.seconds, request.selection.seed, injected.set)

    def revert_all(self) -> None:
        for active in list(self._active):
            active.revert()

    def close(self) -> None:
        self.revert_all()
        if self._client is not None:
            self._call(self._client.__aexit__(None, None, None))
        self._engines.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # The faults by name, as on the command line.

    def pause(self, nodes: Sequence[str] | str, **kw: Any) -> ActiveFault:
        return self.fault("pause", nodes, **kw)

    def stop(self, nodes: Sequence[str] | str, **kw: Any) -> ActiveFault:
        return self.fault("stop", nodes, **kw)

    def kill(self, nodes: Sequence[str] | str, **kw: Any) -> ActiveFault:
        return self.fault("kill", nodes, **kw)

    def drain(self, nodes: Sequence[str] | str, **kw: Any) -> ActiveFault:
        return self.fault("drain", nodes, **kw)

    def partition(
        self, nodes: Sequence[str] | str, target: str = "all", direction: str = "both", **kw: Any
    ) -> ActiveFault:
        return self.fault("partition", nodes, target=target, direction=direction, **kw)

    def loss(
        self,
        nodes: Sequence[str] | str,
        percent: float = 30,
        target: str = "all",
        direction: str = "to",
        **kw: Any,
    ) -> ActiveFault:
        return self.fault("loss", nodes, target=target, direction=direction, percent=percent, **kw)

    def latency(
        self,
        nodes: Sequence[str] | str,
        delay: str = "100ms",
        jitter: str = "0ms",
        target: str = "all",
        direction: str = "to",
        **kw: Any,
    ) -> ActiveFault:
        return self.fault(
            "latency", nodes, target=target, direction=direction, delay=delay, jitter=jitter, **kw
        )

    def bandwidth(
        self, nodes: Sequence[str] | str, rate: str = "1mbit", target: str = "all", **kw: Any
    ) -> ActiveFault:
        return self.fault("bandwidth", nodes, target=target, rate=rate, **kw)

    def stop_component(
        self,
        component: str,
        nodes: Sequence[str] | str = (),
        **kw: Any,
    ) -> ActiveFault:
        return self.fault("stop-component", nodes, component=component, **kw)

    def cpu_burn(self, nodes: Sequence[str] | str, workers: int = 1, **kw: Any) -> ActiveFault:
        return self.fault("cpu-burn", nodes, workers=workers, **kw)

    def memory_fill(
        self, nodes: Sequence[str] | str, size: str = "256Mi", **kw: Any
    ) -> ActiveFault:
        return self.fault("memory-fill", nodes, size=size, **kw)

    def once(self, kind: str, targets: Sequence[str] | str = (), **kw: Any) -> None:
        """A one-shot fault (restart, start, remove, kill-component, kill-container,
        kill-pod): done when this returns."""
        self.fault(kind, targets, **kw).inject().revert()


class ActiveFault:
    """One fault from the Python API: a context manager, or .inject() and .revert()."""

    def __init__(self, api: ChaosAPI, request: FaultRequest) -> None:
        self._api = api
        self._request = request
        self._task: asyncio.Task[None] | None = None
        self._finished = threading.Event()

    def inject(self) -> ActiveFault:
        api = self._api
        injected = threading.Event()

        async def spawn() -> asyncio.Task[None]:
            task = asyncio.ensure_future(api._hold(self._request, injected))
            task.add_done_callback(lambda _: self._finished.set())
            return task

        self._task = api._call(spawn())
        api._active.add(self)
        while not injected.wait(0.05):
            if self._finished.is_set():
                api._active.discard(self)
                error = self._task.exception() if not self._task.cancelled() else None
                if error is not None:
                    raise error  # what went wrong before the injection
                break
        return self

    def revert(self) -> None:
        """End the fault and wait until it is reverted."""
        if self._task is not None and not self._finished.is_set():
            self._api._loop.call_soon_threadsafe(self._task.cancel)
            self._finished.wait(timeout=120)
        self._api._active.discard(self)

    def __enter__(self) -> ActiveFault:
        return self.inject()

    def __exit__(self, *_: object) -> None:
        self.revert()
