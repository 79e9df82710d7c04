"""Restarting the Docker daemon the way it was started: systemd's unit, or the same command
line again when dockerd runs as a plain process (as scripts/setup starts it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker


def _ping() -> bool:
    try:
        docker.from_env(timeout=5).ping()
        return True
    except Exception:
        return False


def _dockerd_pid() -> int | None:
    result = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    pids = result.stdout.split()
    return int(pids[0]) if pids else None


def restart_docker_daemon(timeout: float = 90) -> None:
    if (
        shutil.which("systemctl")
        and subprocess.run(
            ["systemctl", "is-active", "--quiet", "docker"], capture_output=True
        ).returncode
        == 0
    ):
        subprocess.run(["systemctl", "restart", "docker"], check=True)
    else:
        pid = _dockerd_pid()
        if pid is None:
            raise RuntimeError("no dockerd process to restart")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("dockerd did not stop")
            time.sleep(0.2)
        log = open("/var/log/ku7s-dockerd.log", "ab")  # noqa: SIM115 (lives with dockerd)
        subprocess.Popen(
            [a.decode() for a in argv],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not _ping():
        if time.monotonic() > deadline:
            raise RuntimeError("dockerd did not come back")
        time.sleep(0.2)
