"""CrashLoopBackOff: how long a container that exited waits before it runs again.

As upstream: the first restart is at once, the next after 10 s, then 20 s, 40 s and so on
up to 5 minutes; a container that ran 10 minutes before exiting starts the series again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

BASE = 10.0
MAXIMUM = 300.0


def go_duration(seconds: float) -> str:
    """10s, 1m20s, 5m0s: how Go prints durations, as upstream's messages show them."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60}s"


class RestartBackoff:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._delays: dict[str, float] = {}  # container name -> its current delay
        self._clock = clock

    def delay(self, name: str) -> float:
        return self._delays.get(name, 0.0)

    def wait(self, name: str, started_ns: int, finished_ns: int) -> float:
        """Seconds the container must still wait, or 0: then it restarts now, and the next
        delay doubles."""
        ran = (finished_ns - started_ns) / 1e9 if started_ns else 0.0
        if ran > 2 * MAXIMUM:
            self._delays.pop(name, None)
        delay = self._delays.get(name)
        if delay is not None:
            left = finished_ns / 1e9 + delay - self._clock()
            if left > 0:
                return left
        self._delays[name] = BASE if delay is None else min(delay * 2, MAXIMUM)
        return 0.0
