"""The supervisor restarts crashed programs with back-off and stops them on request."""

from __future__ import annotations

import asyncio
import io
import os
import sys

from ku7s.supervisor import Backoff, Program, Supervisor


def test_backoff_doubles_up_to_the_maximum():
    backoff = Backoff(initial=1, maximum=5, reset_after=10)
    assert [backoff.next_delay(0.1) for _ in range(5)] == [1, 2, 4, 5, 5]


def test_backoff_resets_after_a_long_run():
    backoff = Backoff(initial=1, maximum=30, reset_after=10)
    backoff.next_delay(0.1)
    backoff.next_delay(0.1)
    assert backoff.next_delay(60) == 1
    assert backoff.failures == 1


async def test_a_crashing_program_is_restarted_with_its_own_log(tmp_path):
    crash = Program("crasher", (sys.executable, "-c", "print('boom'); raise SystemExit(3)"))
    out = io.StringIO()
    supervisor = Supervisor(
        [crash], tmp_path, backoff_factory=lambda: Backoff(initial=0.01, maximum=0.02), out=out
    )
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    log = tmp_path / "crasher.log"
    for _ in range(200):
        if log.exists() and log.read_text().count("boom") >= 3:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert supervisor.starts["crasher"] >= 3
    assert log.read_text().count("boom") >= 3
    assert "crasher exited with 3" in out.getvalue()


async def test_stop_terminates_a_long_running_program(tmp_path):
    sleeper = Program(
        "sleeper", (sys.executable, "-c", "import time; time.sleep(60)"), stop_timeout=2
    )
    supervisor = Supervisor([sleeper], tmp_path, pid_dir=tmp_path / "run", out=io.StringIO())
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    while supervisor.starts["sleeper"] == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    pid = int((tmp_path / "run" / "sleeper.pid").read_text())
    assert os.getpgid(pid) == pid  # its own process group, which faults signal whole
    stop.set()
    await asyncio.wait_for(task, 5)
    assert supervisor.starts["sleeper"] == 1
    assert not (tmp_path / "run" / "sleeper.pid").exists()


async def test_a_missing_binary_is_reported_and_retried(tmp_path):
    missing = Program("ghost", ("/nonexistent/ghost",))
    out = io.StringIO()
    supervisor = Supervisor(
        [missing], tmp_path, backoff_factory=lambda: Backoff(initial=0.01), out=out
    )
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert "cannot start ghost" in out.getvalue()
