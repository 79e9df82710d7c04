"""The latency fault's packet holder without netlink: packets come out in the order their
time comes, not before it, and all of them at once when it stops."""

from __future__ import annotations

import random
import threading
import time

from node_image.packet_delay import Delay, HeldPackets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_packets_are_let_go_when_their_time_comes_in_time_order():
    clock, released = Clock(), []
    held = HeldPackets(released.append, clock=clock)
    held.hold("slow", 0.3)
    held.hold("fast", 0.1)
    assert held.take_due() == []
    clock.now += 0.1
    assert held.take_due() == ["fast"]
    clock.now += 0.25
    assert held.take_due() == ["slow"] and len(held) == 0


def test_closing_lets_every_held_packet_go_and_later_ones_pass_at_once():
    released: list[str] = []
    held = HeldPackets(released.append, clock=Clock())
    held.hold("b", 0.5)
    held.hold("a", 0.2)
    assert held.close() == ["a", "b"]
    held.hold("late", 10)
    assert released == ["late"] and len(held) == 0


def test_the_release_thread_delays_by_about_the_time_asked():
    released = threading.Event()
    held = HeldPackets(lambda packet: released.set())
    thread = threading.Thread(target=held.run, daemon=True)
    thread.start()
    started = time.monotonic()
    held.hold("p", 0.15)
    assert released.wait(2)
    assert 0.14 <= time.monotonic() - started < 1.0
    held.close()
    thread.join(2)
    assert not thread.is_alive()


def test_jitter_spreads_delays_around_the_latency_and_never_below_zero():
    rng = random.Random(7)
    draws = [Delay(0.2, 0.05).draw(rng) for _ in range(2000)]
    assert min(draws) >= 0.15 and max(draws) <= 0.25
    assert abs(sum(draws) / len(draws) - 0.2) < 0.005
    assert min(Delay(0.01, 0.05).draw(rng) for _ in range(200)) == 0.0
