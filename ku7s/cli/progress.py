"""Step-by-step progress on the terminal, in kind's style: a spinner, then ✓ or ✗."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console


class RichProgress:
    def __init__(self, console: Console) -> None:
        self._console = console

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            with self._console.status(f" {title} ...", spinner="dots"):
                yield
        except BaseException:
            self._console.print(f" [red]✗[/red] {title}")
            raise
        self._console.print(
            f" [green]✓[/green] {title} [dim]({time.monotonic() - started:.1f}s)[/dim]"
        )

    def note(self, text: str) -> None:
        self._console.print(f"   [dim]{text}[/dim]")
