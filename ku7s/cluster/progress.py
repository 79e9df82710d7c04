"""How cluster operations report their steps; the CLI draws them, tests stay quiet."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

#: Reports one line of what a long operation is doing.
Say = Callable[[str], None]


class Progress(Protocol):
    def step(self, title: str) -> contextlib.AbstractContextManager[None]:
        """A step that is running inside the with-block; an exception marks it failed."""
        ...

    def note(self, text: str) -> None:
        """A line of detail under the current step."""
        ...


class SilentProgress:
    def __init__(self) -> None:
        self.steps: list[str] = []

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.steps.append(title)
        yield

    def note(self, text: str) -> None:
        pass
