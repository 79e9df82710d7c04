"""The supervisor restarts crashed programs with back-off and stops them on request."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ku7s.supervisor import Backoff, Program, Supervisor


def started(supervisor: Supervisor) -> tuple[threading.Event, threading.Thread]:
    """The supervisor running in a thread, and the event that stops it."""
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,))
    thread.start()
    return stop, thread


def test_backoff_doubles_up_to_the_maximum():
    backoff = Backoff(initial=1, maximum=5, reset_after=10)
    assert [backoff.next_delay(0.1) for _ in range(5)] == [1, 2, 4, 5, 5]


def test_backoff_resets_after_a_long_run():
    backoff = Backoff(initial=1, maximum=30, reset_after=10)
    backoff.next_delay(0.1)
    backoff.next_delay(0.1)
    assert backoff.next_delay(60) == 1
    assert backoff.failures == 1


def test_a_crashing_program_is_restarted_with_its_own_log(tmp_path):
    crash = Program("crasher", (sys.executable, "-c", "print('boom'); raise SystemExit(3)"))
    out = io.StringIO()
    supervisor = Supervisor(
        [crash], tmp_path, backoff_factory=lambda: Backoff(initial=0.01, maximum=0.02), out=out
    )
    stop, thread = started(supervisor)
    log = tmp_path / "crasher.log"
    for _ in range(200):
        if log.exists() and log.read_text().count("boom") >= 3:
            break
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert supervisor.starts["crasher"] >= 3
    assert log.read_text().count("boom") >= 3
    assert "crasher exited with 3" in out.getvalue()


def test_stop_terminates_a_long_running_program(tmp_path):
    sleeper = Program(
        "sleeper", (sys.executable, "-c", "import time; time.sleep(60)"), stop_timeout=2
    )
    supervisor = Supervisor([sleeper], tmp_path, pid_dir=tmp_path / "run", out=io.StringIO())
    stop, thread = started(supervisor)
    while supervisor.starts["sleeper"] == 0:
        time.sleep(0.01)
    time.sleep(0.1)
    pid = int((tmp_path / "run" / "sleeper.pid").read_text())
    assert os.getpgid(pid) == pid  # its own process group, which faults signal whole
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert supervisor.starts["sleeper"] == 1
    assert not (tmp_path / "run" / "sleeper.pid").exists()


def test_a_program_deaf_to_sigterm_is_killed_after_its_stop_timeout(tmp_path):
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    program = Program("deaf", (sys.executable, "-c", deaf), stop_timeout=0.5)
    supervisor = Supervisor([program], tmp_path, out=io.StringIO())
    stop, thread = started(supervisor)
    while supervisor.starts["deaf"] == 0:
        time.sleep(0.01)
    time.sleep(0.3)
    asked = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and 0.4 < time.monotonic() - asked < 3


def test_a_missing_binary_is_reported_and_retried(tmp_path):
    missing = Program("ghost", ("/nonexistent/ghost",))
    out = io.StringIO()
    supervisor = Supervisor(
        [missing], tmp_path, backoff_factory=lambda: Backoff(initial=0.01), out=out
    )
    stop, thread = started(supervisor)
    time.sleep(0.1)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert "cannot start ghost" in out.getvalue()


def test_sigterm_stops_a_node_supervisor_and_its_programs(tmp_path):
    """The node's main process as Docker stops it: SIGTERM, and every program ends."""
    script = (
        "import sys; from pathlib import Path; import ku7s.supervisor.supervisor as s; "
        "s.PID_DIR = Path(sys.argv[1]) / 'run'; "
        "s.run_until_signalled([s.Program('sleeper', (sys.executable, '-c', "
        "'import time; time.sleep(60)'))], Path(sys.argv[1]))"
    )
    main = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)])
    pid_file = tmp_path / "run" / "sleeper.pid"
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.01)
    child = int(pid_file.read_text())
    main.send_signal(signal.SIGTERM)
    assert main.wait(10) == 0
    try:
        os.kill(child, 0)
        alive = Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
    except ProcessLookupError:
        alive = False
    assert not alive
