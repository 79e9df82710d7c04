"""Changes a fault makes inside containers with shell commands, and the timer it leaves
beside them: one process that sleeps for the fault's duration and then runs the undo, so the
fault ends on time even if the run that made it died. The timer has no child to orphan while
it sleeps, so killing it (on an earlier revert) leaves nothing behind; its last argument is
the tag it is found by."""

from __future__ import annotations

from typing import Any

from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import Ku7sError, NotFoundError

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


def exec_output(result: Any) -> str:
    """What a failed docker exec said, for an error message: its end."""
    output = result.output if isinstance(result.output, bytes) else b""
    return output.decode(errors="replace").strip()[-200:]


def apply_timed(
    container: Any, commands: list[str], undo: str, seconds: float, tag: str, what: str
) -> None:
    """Run the commands (all or none: a failure runs the undo) and start the timer."""
    result = container.exec_run(["sh", "-c", " && ".join(commands)])
    if result.exit_code != 0:
        container.exec_run(["sh", "-c", undo])
        raise Ku7sError(f"cannot {what} on {container.name}: {exec_output(result)}")
    start_timer(container, seconds, undo, tag)


def undo_timed(engines: ClusterEngines, names: list[str], undo: str, tag: str) -> None:
    """Stop the timers and undo now, in every container that still exists."""
    for name in names:
        try:
            container = engines.container(name)
        except NotFoundError:  # removed meanwhile: nothing left to undo
            continue
        stop_timer(container, tag)
        container.exec_run(["sh", "-c", undo])
