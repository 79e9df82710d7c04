"""A work queue as Kubernetes controllers use it: keys, not objects; a key queued many
times is worked on once; a key is never handled by two workers at once; failures come back
after an exponential back-off that ``forget`` resets."""

from __future__ import annotations

import asyncio
from typing import Generic, Protocol, TypeVar

K = TypeVar("K")


class QueueObserver(Protocol):
    """What a queue tells its metrics (ku7s.metrics.workqueue.QueueState)."""

    def added(self, key: object) -> None: ...
    def taken(self, key: object) -> None: ...
    def done(self, key: object) -> None: ...
    def retried(self) -> None: ...


class _Unobserved:
    def added(self, key: object) -> None:
        pass

    def taken(self, key: object) -> None:
        pass

    def done(self, key: object) -> None:
        pass

    def retried(self) -> None:
        pass


class WorkQueue(Generic[K]):
    def __init__(
        self,
        *,
        base_delay: float = 0.005,
        max_delay: float = 30.0,
    ) -> None:
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._base = base_delay
        self._max = max_delay
        self._timers: set[asyncio.TimerHandle] = set()
        self._observer: QueueObserver = _Unobserved()

    def observe(self, observer: QueueObserver) -> None:
        """Report adds, waits and work to metrics from now on."""
        self._observer = observer

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, key: K) -> None:
        if key in self._processing:
            self._dirty.add(key)  # comes back when the current run is done
            return
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)
            self._observer.added(key)

    def add_after(self, key: K, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.add(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def add_rate_limited(self, key: K) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self._observer.retried()
        self.add_after(key, min(self._max, self._base * 2**failures))

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> K:
        key = await self._queue.get()
        self._queued.discard(key)
        self._processing.add(key)
        self._observer.taken(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        self._observer.done(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def shut_down(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
