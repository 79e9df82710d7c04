"""Runs the programs of one node, restarting each one that exits, until asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ku7s.aio import sleep_unless, stop_on_signals
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
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self.starts: dict[str, int] = {p.name: 0 for p in programs}

    async def run(self, stop: asyncio.Event) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        if self._pid_dir is not None:
            self._pid_dir.mkdir(parents=True, exist_ok=True)
        async with asyncio.TaskGroup() as group:
            for program in self._programs:
                group.create_task(self._keep_running(program, stop))

    def _say(self, message: str) -> None:
        print(f"ku7s-supervisor: {message}", file=self._out, flush=True)

    async def _keep_running(self, program: Program, stop: asyncio.Event) -> None:
        backoff = self._backoff_factory()
        while not stop.is_set():
            started = self._clock()
            code = await self._run_once(program, stop)
            if stop.is_set():
                return
            delay = backoff.next_delay(self._clock() - started)
            self._say(f"{program.name} exited with {code}; restarting in {delay:.1f}s")
            await sleep_unless(stop, delay)

    async def _run_once(self, program: Program, stop: asyncio.Event) -> int | None:
        log_path = self._log_dir / f"{program.name}.log"
        with open(log_path, "ab", buffering=0) as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    *program.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env={**os.environ, **program.env},
                    start_new_session=True,
                )
            except OSError as e:
                self._say(f"cannot start {program.name}: {e}")
                return None
            self._processes[program.name] = process
            self.starts[program.name] += 1
            pid_file = self._pid_dir / f"{program.name}.pid" if self._pid_dir else None
            if pid_file is not None:
                pid_file.write_text(f"{process.pid}\n")
            self._say(f"started {program.name} (pid {process.pid})")
            waiter = asyncio.ensure_future(process.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
            if not waiter.done():
                await self._terminate(program, process, waiter)
            self._processes.pop(program.name, None)
            if pid_file is not None:
                pid_file.unlink(missing_ok=True)
            return process.returncode

    async def _terminate(
        self, program: Program, process: asyncio.subprocess.Process, waiter: asyncio.Future[int]
    ) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout=program.stop_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await waiter


#: Where node processes keep their pid files.
PID_DIR = Path("/run/ku7s")


def run_until_signalled(programs: list[Program], log_dir: Path) -> None:
    """Entry point for a node's main process: supervise until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = stop_on_signals()
        await Supervisor(programs, log_dir, pid_dir=PID_DIR).run(stop)

    asyncio.run(main())
