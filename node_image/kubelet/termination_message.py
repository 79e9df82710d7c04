"""A terminated container's message: what it wrote to its termination log, or (with
``terminationMessagePolicy: FallbackToLogsOnError`` and a failure) the tail of its log,
else the runtime's message."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

LIMIT = 4096
#: Log lines the fallback reads, as upstream.
FALLBACK_LINES = 80

Object = dict[str, Any]


def termination_message(
    termination_log: Path, spec: Object, exit_code: int, log_path: str, runtime_message: str
) -> str:
    with contextlib.suppress(OSError):
        text = termination_log.read_bytes()[:LIMIT].decode(errors="replace")
        if text:
            return text
    if spec.get("terminationMessagePolicy") == "FallbackToLogsOnError" and exit_code != 0:
        with contextlib.suppress(OSError):
            lines = Path(log_path).read_text(errors="replace").splitlines()[-FALLBACK_LINES:]
            # CRI log lines: "<time> <stream> <tag> <text>"
            return "\n".join(line.split(" ", 3)[-1] for line in lines)[-LIMIT:]
    return runtime_message
