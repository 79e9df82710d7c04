"""Durations as Go and Chaos Mesh write them: ``300ms``, ``30s``, ``1m30s``, ``2h``; read
alike by the chaos CLI and by hollow nodes' pod annotations."""

from __future__ import annotations

import math
import re

from ku7s.errors import UserInputError


class InvalidDuration(UserInputError):
    """Not a duration, or not one allowed here."""


_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, zero_allowed: bool = False) -> float:
    """Seconds in the duration; a bare number is seconds."""
    cleaned = text.strip()
    try:
        seconds = float(cleaned)
    except ValueError:
        position, seconds = 0, 0.0
        for match in _PART.finditer(cleaned):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNIT[match.group(2)]
            position = match.end()
        if position != len(cleaned) or not cleaned:
            raise InvalidDuration(
                f"invalid duration {text!r}: expected a number with a unit, "
                "such as 500ms, 30s, 1m30s or 2h"
            ) from None
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero_allowed):
        raise InvalidDuration(f"invalid duration {text!r}: must be more than zero")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)}m{rest:.0f}s" if rest else f"{int(minutes)}m"
    return f"{rest:g}s"
