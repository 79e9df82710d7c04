"""Which of the candidate targets a fault hits, in Chaos Mesh's modes: ``one``, ``all``,
``fixed`` (N of them) and ``fixed-percent`` (N percent, at least one), chosen at random
with a seed that the report prints, so a run can be repeated."""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass

from ku7s.errors import UserInputError

MODES = ("one", "all", "fixed", "fixed-percent")


@dataclass(frozen=True)
class Selection:
    mode: str = "all"
    value: int = 0
    seed: int = 0

    @classmethod
    def parse(cls, mode: str, value: int | None, seed: int | None) -> Selection:
        if mode not in MODES:
            raise UserInputError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
        if mode in ("fixed", "fixed-percent"):
            if value is None or value < 1:
                raise UserInputError(f"mode {mode} needs --value of 1 or more")
            if mode == "fixed-percent" and value > 100:
                raise UserInputError(f"mode fixed-percent takes --value up to 100, not {value}")
        return cls(mode, value or 0, secrets.randbelow(2**31) if seed is None else seed)

    def choose(self, candidates: list[str]) -> list[str]:
        """The chosen targets, sorted; the same seed and candidates give the same choice."""
        if not candidates:
            return []
        ordered = sorted(candidates)
        if self.mode == "all":
            return ordered
        count = {
            "one": 1,
            "fixed": self.value,
            "fixed-percent": max(1, math.floor(len(ordered) * self.value / 100)),
        }[self.mode]
        if count > len(ordered):
            raise UserInputError(
                f"mode {self.mode} wants {count} targets, only {len(ordered)} match"
            )
        return sorted(random.Random(self.seed).sample(ordered, count))
