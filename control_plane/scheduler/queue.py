"""Pods waiting to be scheduled.

Active pods come out by priority, then in the order they arrived. A pod that fit nowhere
waits among the unschedulable until the cluster changes (a node appears or changes, a pod
goes away) or a minute passes; a pod whose binding failed comes back after a back-off.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

from ku7s.api import meta

Object = dict[str, Any]

UNSCHEDULABLE_FLUSH = 60.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 10.0


class SchedulingQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._order = itertools.count()
        self._pods: dict[str, Object] = {}  # uid -> newest pod, for pods active or waiting
        self._active: set[str] = set()
        self._unschedulable: dict[str, float] = {}  # uid -> when it was parked
        self._attempts: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pods)

    def add(self, pod: Object) -> None:
        """A new or changed pod that needs a node: it goes to the active queue unless it
        is waiting for a back-off."""
        uid = meta.uid_of(pod)
        self._pods[uid] = pod
        if uid in self._timers:
            return
        self._unschedulable.pop(uid, None)
        self._activate(uid, pod)

    def update(self, pod: Object) -> None:
        """A pod changed: keep the newest copy. An unschedulable pod is tried again when
        its spec or labels changed (not for a status write, such as the scheduler's own)."""
        uid = meta.uid_of(pod)
        old = self._pods.get(uid)
        if old is None:
            self.add(pod)
            return
        self._pods[uid] = pod
        relevant = old.get("spec") != pod.get("spec") or meta.labels_of(old) != meta.labels_of(pod)
        if uid in self._unschedulable and relevant:
            del self._unschedulable[uid]
            self._activate(uid, pod)

    def remove(self, uid: str) -> None:
        self._pods.pop(uid, None)
        self._active.discard(uid)
        self._unschedulable.pop(uid, None)
        self._attempts.pop(uid, None)
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()

    def _activate(self, uid: str, pod: Object) -> None:
        if uid in self._active:
            return
        self._active.add(uid)
        priority = int((pod.get("spec") or {}).get("priority") or 0)
        heapq.heappush(self._heap, (-priority, next(self._order), uid))
        self._ready.set()

    async def pop(self) -> Object:
        while True:
            while self._heap:
                _, _, uid = heapq.heappop(self._heap)
                if uid in self._active:
                    self._active.discard(uid)
                    return self._pods[uid]
            self._ready.clear()
            await self._ready.wait()

    def unschedulable(self, pod: Object, now: float) -> None:
        uid = meta.uid_of(pod)
        if uid in self._pods:
            self._unschedulable[uid] = now

    def retry_later(self, pod: Object) -> None:
        """Binding failed: try again after a back-off that doubles each time."""
        uid = meta.uid_of(pod)
        if uid not in self._pods:
            return
        attempts = self._attempts.get(uid, 0)
        self._attempts[uid] = attempts + 1
        delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2**attempts)

        def fire() -> None:
            self._timers.pop(uid, None)
            if uid in self._pods:
                self._activate(uid, self._pods[uid])

        self._timers[uid] = asyncio.get_running_loop().call_later(delay, fire)

    def move_all_unschedulable(self) -> None:
        """The cluster changed in a way that may let waiting pods fit."""
        for uid in list(self._unschedulable):
            del self._unschedulable[uid]
            self._activate(uid, self._pods[uid])

    def flush_stale(self, now: float) -> None:
        for uid, since in list(self._unschedulable.items()):
            if now - since >= UNSCHEDULABLE_FLUSH:
                del self._unschedulable[uid]
                self._activate(uid, self._pods[uid])

    def pending(self) -> dict[str, int]:
        """How many pods wait in each part of the queue, as scheduler_pending_pods counts."""
        return {
            "active": len(self._active),
            "backoff": len(self._timers),
            "unschedulable": len(self._unschedulable),
            "gated": 0,
        }

    def forget(self, uid: str) -> None:
        """The pod was bound: nothing of it stays here."""
        self.remove(uid)
