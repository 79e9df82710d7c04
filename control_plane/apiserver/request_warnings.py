"""Warnings for the client, gathered while a request is served (an admission webhook's, for
instance) and sent as HTTP ``Warning`` headers, which kubectl prints."""

from __future__ import annotations

from contextvars import ContextVar

#: The warnings of the request being served (None outside a request).
WARNINGS: ContextVar[list[str] | None] = ContextVar("warnings", default=None)


def warn(message: str) -> None:
    warnings = WARNINGS.get()
    if warnings is not None:
        warnings.append(message)
