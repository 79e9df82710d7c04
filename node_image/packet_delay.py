"""Holds the packets iptables sends to an NFQUEUE for a while before letting them go on: the
``latency`` fault on kernels without ``netem`` (as here). fnfqueue does the netlink part.

Only the packets' metadata comes up to user space, so holding one costs a few kilobytes and
no copy; a verdict is given later by packet id. A released packet is *repeated* with a mark
bit set, so it runs through the rest of the firewall as it would have without the fault,
and the fault's own rule (which skips marked packets) lets it pass.

Run as ``python3 -m node_image.packet_delay --queue N --latency S --jitter S --seconds S TAG``.
It returns once the queue is bound (or prints why it could not be) and goes on in the
background; SIGTERM releases every held packet at once and ends it, and it ends by itself
shortly after its duration, so a fault whose run died does not delay traffic for ever.
"""

from __future__ import annotations

import argparse
import errno
import heapq
import itertools
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The mark bit a released packet carries; the fault's rules skip packets that have it.
RELEASED_MARK = 0x20000000
#: The kernel's longest queue for one fault; beyond it packets pass undelayed (fail open).
QUEUE_LENGTH = 20000
#: How long after its duration the process ends by itself if no one stopped it.
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Delay:
    """How long each packet is held: the latency, give or take up to the jitter (uniform,
    as netem draws without a distribution table)."""

    latency: float
    jitter: float = 0.0

    def draw(self, rng: random.Random) -> float:
        return max(0.0, self.latency + rng.uniform(-self.jitter, self.jitter))


@dataclass
class HeldPackets:
    """Packets held until their time, released in time order by one thread."""

    release: Callable[[Any], None]
    clock: Callable[[], float] = time.monotonic
    _heap: list[tuple[float, int, Any]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _closed: bool = False

    def hold(self, packet: Any, seconds: float) -> None:
        """Keep the packet for seconds; once closed, let it go at once."""
        with self._changed:
            if not self._closed:
                heapq.heappush(self._heap, (self.clock() + seconds, next(self._order), packet))
                self._changed.notify()
                return
        self.release(packet)

    def __len__(self) -> int:
        return len(self._heap)

    def take_due(self) -> list[Any]:
        """The packets whose time has come, in order; none if the earliest is not due."""
        now = self.clock()
        with self._changed:
            due = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
            return due

    def wait(self, longest: float = 1.0) -> None:
        """Until the earliest packet is due, a new one arrives, or ``close``."""
        with self._changed:
            if self._closed:
                return
            if not self._heap:
                self._changed.wait(longest)
            else:
                self._changed.wait(min(longest, max(0.0, self._heap[0][0] - self.clock())))

    def close(self) -> list[Any]:
        """Stop holding; the packets still held, in order, for release now."""
        with self._changed:
            self._closed = True
            held = [entry[2] for entry in sorted(self._heap)]
            self._heap.clear()
            self._changed.notify_all()
            return held

    def run(self) -> None:
        """Release packets as they come due, until closed."""
        while not self._closed:
            self.wait()
            for packet in self.take_due():
                self.release(packet)


def release(packet: Any) -> None:
    import fnfqueue

    try:
        try:
            mark = packet.mark
        except fnfqueue.NoSuchAttributeException:  # the packet has no mark yet
            mark = 0
        packet.mark = mark | RELEASED_MARK
        packet.verdict(fnfqueue.REPEAT, fnfqueue.MANGLE_MARK)
    except (OSError, fnfqueue.PacketInvalidException):
        pass  # the kernel forgot it meanwhile (its queue was flushed): nothing to do


def serve(queue_number: int, delay: Delay, seconds: float, bound: Callable[[str], None]) -> None:
    """Bind the queue, report, then hold and release packets until told to stop."""
    import fnfqueue

    try:
        connection = fnfqueue.Connection(alloc_size=256, chunk_size=32, packet_size=4096)
        queue = connection.bind(queue_number)
        queue.set_mode(0, fnfqueue.COPY_META)
        queue.set_maxlen(QUEUE_LENGTH)
        queue.fail_open = True
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.EPERM:  # what the kernel says when another process has it
            reason = "it is in use by another process, or NET_ADMIN is missing"
        bound(f"cannot bind NFQUEUE {queue_number}: {reason}")
        return
    bound("")
    held = HeldPackets(release)
    releaser = threading.Thread(target=held.run, daemon=True)
    releaser.start()
    done = threading.Lock()

    def shut_down() -> None:
        """Let every held packet go, then leave the queue (which ends the loop below)."""
        if done.acquire(blocking=False):
            for packet in held.close():
                release(packet)
            connection.close()

    def on_signal(*_: object) -> None:
        threading.Thread(target=shut_down, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Timer(seconds + GRACE_SECONDS, shut_down).start()
    rng = random.Random()
    try:
        for packet in connection:
            held.hold(packet, delay.draw(rng))
    except Exception:
        pass
    shut_down()
    os._exit(0)


def daemonize(work: Callable[[Callable[[str], None]], None]) -> int:
    """Run work in a detached child; return once it reports being bound (0) or failing (1).

    The child lets go of our standard streams, so whoever ran us (docker exec) is not kept
    waiting for it."""
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        with os.fdopen(read_end) as report:
            message = report.read()
        if message.startswith("ok"):
            return 0
        print(message.strip() or "the packet delay process died before binding", file=sys.stderr)
        return 1
    os.close(read_end)
    os.setsid()

    reported = False

    def bound(error: str) -> None:
        nonlocal reported
        reported = True
        os.write(write_end, (error or "ok").encode())
        os.close(write_end)
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(null, stream)

    try:
        work(bound)
    except BaseException as error:
        if not reported:
            bound(f"the packet delay process failed: {error!r}")
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packet_delay")
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--latency", type=float, required=True)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("tag", help="the fault's tag, by which it is found and stopped")
    args = parser.parse_args(argv)
    delay = Delay(args.latency, args.jitter)
    return daemonize(lambda bound: serve(args.queue, delay, args.seconds, bound))


if __name__ == "__main__":
    sys.exit(main())
