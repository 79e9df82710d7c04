"""A process slot whose component arrives in a later issue: it says so and waits.

Keeping the slot means the supervisor, the log file and the restart policy already exist,
so the real component only replaces the module its slot runs. Imports nothing heavy, so an
idle slot costs a few MiB.
"""

from __future__ import annotations

import signal
import sys


def idle(component: str, issue: str) -> None:
    print(f"{component}: not implemented yet ({issue}); idling", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()
