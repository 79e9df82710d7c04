"""What every command works with: where to print, and how to reach Docker.

Made once by main() and handed to the commands by click, so tests can run the CLI with
their own consoles or provider, and nothing is created at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console

from ku7s.cli.progress import RichProgress

if TYPE_CHECKING:
    from ku7s.cluster.providers.docker import DockerProvider

#: The cluster a command means when it names none.
DEFAULT_CLUSTER = os.environ.get("KU7S_CLUSTER_NAME", "ku7s")


def _connect() -> DockerProvider:
    # Imported here: the Docker SDK is slow to import and `ku7s --help` needs none of it.
    from ku7s.cluster.providers.docker import DockerProvider

    return DockerProvider.connect()


@dataclass
class CLIContext:
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )
    connect: Callable[[], DockerProvider] = _connect
    verbose: bool = False
    _provider: DockerProvider | None = None

    @property
    def provider(self) -> DockerProvider:
        if self._provider is None:
            self._provider = self.connect()
        return self._provider

    def progress(self) -> RichProgress:
        return RichProgress(self.err)
