"""What a controller is waiting to see in its informer after acting.

A controller that created three pods must not create three more before its cache shows
them; upstream calls this bookkeeping expectations. Expectations lapse after a while, so a
lost event only delays a controller, never stops it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPIRY_SECONDS = 300.0


@dataclass
class _Pending:
    creates: int = 0
    deletes: set[str] = field(default_factory=set)
    since: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def expect(self, key: str, *, creates: int = 0, deletes: set[str] | None = None) -> None:
        self._pending[key] = _Pending(creates, set(deletes or ()))

    def created(self, key: str) -> None:
        pending = self._pending.get(key)
        if pending is not None and pending.creates > 0:
            pending.creates -= 1

    def deleted(self, key: str, uid: str) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.deletes.discard(uid)

    def lower(self, key: str, *, creates: int = 0) -> None:
        """Creates that failed will never be observed."""
        pending = self._pending.get(key)
        if pending is not None:
            pending.creates = max(0, pending.creates - creates)

    def satisfied(self, key: str) -> bool:
        pending = self._pending.get(key)
        if pending is None:
            return True
        if (pending.creates <= 0 and not pending.deletes) or (
            time.monotonic() - pending.since > EXPIRY_SECONDS
        ):
            del self._pending[key]
            return True
        return False

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)
