"""Restart back-off: doubles after each quick crash, resets once a run lasted long enough."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Decides how long to wait before restarting a program that just exited.

    A program that ran for at least ``reset_after`` seconds is considered to have worked,
    so it is restarted after ``initial`` seconds; each further quick exit doubles the delay
    up to ``maximum`` (the shape of the kubelet's CrashLoopBackOff, with shorter times).
    """

    initial: float = 0.2
    maximum: float = 10.0
    factor: float = 2.0
    reset_after: float = 10.0
    _failures: int = field(default=0, init=False)

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= self.reset_after:
            self._failures = 0
        delay = min(self.maximum, self.initial * self.factor**self._failures)
        self._failures += 1
        return delay

    @property
    def failures(self) -> int:
        """Quick exits in a row so far."""
        return self._failures
