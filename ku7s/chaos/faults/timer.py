"""The timer a fault leaves inside a container: one process that sleeps for the fault's
duration and then runs its undo, so the fault ends on time even if the run that made it
died. It has no child to orphan while it sleeps, so killing it (on an earlier revert) leaves
nothing behind; its last argument is the tag it is found by."""

from __future__ import annotations

from typing import Any

_SCRIPT = (
    "import subprocess, sys, time\n"
    "time.sleep(float(sys.argv[1]))\n"
    "subprocess.run(['sh', '-c', sys.argv[2]])\n"
)


def timer_argv(seconds: float, undo: str, tag: str) -> list[str]:
    return ["python3", "-c", _SCRIPT, f"{seconds:.1f}", undo, f"# {tag}"]


def start_timer(container: Any, seconds: float, undo: str, tag: str) -> None:
    container.exec_run(timer_argv(seconds, undo, tag), detach=True)


def stop_timer(container: Any, tag: str) -> None:
    """pkill spares itself, so the pattern in its own arguments does no harm."""
    container.exec_run(["pkill", "-f", f"# {tag}"])
