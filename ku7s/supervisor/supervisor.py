"""Runs the programs of one node, restarting each one that exits, until asked to stop.

One thread per program waits for its process; nothing here needs an event loop, and
leaving asyncio out keeps the supervisor (one in every node container) about 4 MB of
private memory smaller.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ku7s.supervisor.backoff import Backoff
from ku7s.supervisor.program import Program


class Supervisor:
    """Keeps every program running; each one logs to ``<log_dir>/<name>.log`` and, with a
    ``pid_dir``, has its process (group) id in ``<pid_dir>/<name>.pid`` while it runs, which is
    how fault injection finds one component among a node's processes.

    ``backoff_factory`` and ``clock`` are seams for tests; ``out`` receives one line per
    start and exit so ``docker logs`` tells the node's story.
    """

    def __init__(
        self,
        programs: list[Program],
        log_dir: Path,
        *,
        pid_dir: Path | None = None,
        backoff_factory: Callable[[], Backoff] = Backoff,
        clock: Callable[[], float] = time.monotonic,
        out: TextIO = sys.stdout,
    ) -> None:
        self._programs = programs
        self._log_dir = log_dir
        self._pid_dir = pid_dir
        self._backoff_factory = backoff_factory
        self._clock = clock
        self._out = out
        # Guards _processes together with the stop check, so that no program starts after
        # the stop has collected the ones to end.
        self._lock = threading.Lock()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {p.name: 0 for p in programs}

    def run(self, stop: threading.Event) -> None:
        """Supervise until ``stop`` is set, then end every program (SIGTERM to its process
        group, SIGKILL after its stop timeout) and return."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        if self._pid_dir is not None:
            self._pid_dir.mkdir(parents=True, exist_ok=True)
        keepers = {
            p.name: threading.Thread(
                target=self._keep_running, args=(p, stop), name=p.name, daemon=True
            )
            for p in self._programs
        }
        for keeper in keepers.values():
            keeper.start()
        stop.wait()
        with self._lock:
            running = dict(self._processes)
        for process in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        asked = self._clock()
        for program in self._programs:
            keeper = keepers[program.name]
            keeper.join(max(0.0, asked + program.stop_timeout - self._clock()))
            if keeper.is_alive() and program.name in running:
                self._say(f"{program.name} did not stop within {program.stop_timeout:g}s; killed")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running[program.name].pid, signal.SIGKILL)
                keeper.join()

    def _say(self, message: str) -> None:
        print(f"ku7s-supervisor: {message}", file=self._out, flush=True)

    def _keep_running(self, program: Program, stop: threading.Event) -> None:
        backoff = self._backoff_factory()
        while not stop.is_set():
            started = self._clock()
            code = self._run_once(program, stop)
            if stop.is_set():
                return
            delay = backoff.next_delay(self._clock() - started)
            self._say(f"{program.name} exited with {code}; restarting in {delay:.1f}s")
            stop.wait(delay)

    def _run_once(self, program: Program, stop: threading.Event) -> int | None:
        log_path = self._log_dir / f"{program.name}.log"
        pid_file = self._pid_dir / f"{program.name}.pid" if self._pid_dir else None
        with open(log_path, "ab", buffering=0) as log:
            with self._lock:
                if stop.is_set():
                    return None
                try:
                    process = subprocess.Popen(
                        program.argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, **program.env},
                        start_new_session=True,
                    )
                except OSError as e:
                    self._say(f"cannot start {program.name}: {e}")
                    return None
                self._processes[program.name] = process
            self.starts[program.name] += 1
            if pid_file is not None:
                pid_file.write_text(f"{process.pid}\n")
            self._say(f"started {program.name} (pid {process.pid})")
            code = process.wait()
            with self._lock:
                self._processes.pop(program.name, None)
            if pid_file is not None:
                pid_file.unlink(missing_ok=True)
            return code


#: Where node processes keep their pid files.
PID_DIR = Path("/run/ku7s")


def signalled_stop() -> threading.Event:
    """An event set after SIGTERM or SIGINT. The handler only writes to a pipe, which a
    thread reads to set the event: setting it from the handler could deadlock on the
    event's lock if the signal came while the main thread held it."""
    stop = threading.Event()
    read_end, write_end = os.pipe()

    def relay() -> None:
        os.read(read_end, 1)
        stop.set()

    threading.Thread(target=relay, name="signals", daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os.write(write_end, b"."))
    return stop


def run_until_signalled(programs: list[Program], log_dir: Path) -> None:
    """Entry point for a node's main process: supervise until SIGTERM or SIGINT."""
    Supervisor(programs, log_dir, pid_dir=PID_DIR).run(signalled_stop())
