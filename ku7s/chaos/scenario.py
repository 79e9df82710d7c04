"""``ku7s chaos run SCENARIO.yaml``: faults on a timeline.

    seed: 42                      # optional; printed, so a run can be repeated
    faults:
    - fault: pause
      targets: [dev-worker]
      at: 0s                      # offset from the start
      duration: 10s
    - fault: partition
      labels: tier=db             # or targets; mode/value as on the command line
      mode: one
      target: control-plane
      at: 5s
      duration: 20s
    - fault: kill-component
      component: kube-scheduler
      at: 8s

The whole file is checked, and every step's targets resolved, before the first fault is
injected; a mistake names its line. Then each step runs at its offset; Ctrl-C reverts what
is in force. A summary of what happened when closes the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ku7s.chaos.faults.base import Fault
from ku7s.chaos.request import KINDS, FaultRequest, prepare
from ku7s.chaos.runner import Chaos, describe_fault
from ku7s.chaos.selection import Selection
from ku7s.durations import format_duration, parse_duration
from ku7s.errors import UserInputError

COMMON_FIELDS = {
    "fault",
    "at",
    "duration",
    "targets",
    "labels",
    "mode",
    "value",
    "namespace",
    "component",
}


@dataclass
class Step:
    line: int
    at: float
    request: FaultRequest
    fault: Fault | None = None
    started: float | None = None
    ended: float | None = None
    outcome: str = "not run"


@dataclass
class Scenario:
    source: str
    seed: int
    steps: list[Step] = field(default_factory=list)

    @property
    def length(self) -> float:
        return max((s.at + (s.request.seconds if _held(s) else 0) for s in self.steps), default=0)


def _held(step: Step) -> bool:
    return step.fault.reversible if step.fault is not None else True


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except OSError as e:
        raise UserInputError(f"cannot read scenario {path}: {e.strerror}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserInputError(f"{path} is not valid YAML: {e}".replace("\n", " ")) from None
    return parse_scenario(data, root, str(path))


def parse_scenario(data: Any, root: Any, source: str) -> Scenario:
    if not isinstance(data, dict) or "faults" not in data:
        raise UserInputError(f"{source}: expected a mapping with a list of faults")
    unknown = sorted(set(data) - {"faults", "seed", "name"})
    if unknown:
        raise UserInputError(f"{source}: unknown field {unknown[0]!r}")
    seed = data.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise UserInputError(f"{source}: seed must be a whole number")
    scenario = Scenario(source, secrets.randbelow(2**31) if seed is None else seed)
    items = data["faults"]
    if not isinstance(items, list) or not items:
        raise UserInputError(f"{source}: faults must be a non-empty list")
    lines = _item_lines(root)
    for index, item in enumerate(items):
        line = lines[index] if index < len(lines) else 0
        try:
            scenario.steps.append(_step(item, line, scenario.seed + index))
        except UserInputError as e:
            raise UserInputError(f"{source}: line {line}: {e}") from None
    return scenario


def _item_lines(root: Any) -> list[int]:
    """1-based line of each item of the faults list, from the YAML node tree."""
    for key, value in getattr(root, "value", []) or []:
        if getattr(key, "value", None) == "faults" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _step(item: Any, line: int, seed: int) -> Step:
    if not isinstance(item, dict) or "fault" not in item:
        raise UserInputError("each fault needs a 'fault:' naming its kind")
    kind = str(item["fault"])
    if kind not in KINDS:
        raise UserInputError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    unknown = sorted(set(item) - COMMON_FIELDS - set(KINDS[kind]))
    if unknown:
        raise UserInputError(f"fault {kind} takes no field {unknown[0]!r}")
    targets = item.get("targets") or []
    if isinstance(targets, str):
        targets = [targets]
    value = item.get("value")
    request = FaultRequest(
        kind,
        [str(t) for t in targets],
        str(item.get("labels") or ""),
        Selection.parse(str(item.get("mode", "all")), value, seed),
        parse_duration(str(item.get("duration", "30s"))),
        str(item.get("component") or ""),
        str(item.get("namespace") or "default"),
        {k: item[k] for k in KINDS[kind] if k in item},
    )
    at = str(item.get("at", "0s"))
    return Step(line, 0.0 if at in ("0", "0s") else parse_duration(at), request)


async def run_scenario(chaos: Chaos, cluster: str, scenario: Scenario) -> list[Step]:
    """Prepare every step (any mistake stops the run before the first injection), then run
    the timeline."""
    for step in scenario.steps:
        try:
            step.fault = await prepare(chaos, cluster, step.request)
        except UserInputError as e:
            raise UserInputError(f"{scenario.source}: line {step.line}: {e}") from None
    chaos.say(
        f"scenario {scenario.source}: {len(scenario.steps)} faults over "
        f"{format_duration(scenario.length or 0.001)}, seed {scenario.seed}"
    )
    origin = time.monotonic()

    async def play(step: Step) -> None:
        await asyncio.sleep(step.at)
        assert step.fault is not None
        step.started = time.monotonic() - origin
        try:
            await chaos.run(step.fault, step.request.seconds, step.request.selection.seed)
            step.outcome = "reverted" if step.fault.reversible else "done"
        except asyncio.CancelledError:
            step.outcome = "reverted early" if step.started is not None else "not run"
            raise
        except Exception as e:  # one failing step does not stop the others
            step.outcome = f"failed: {e}"
        finally:
            step.ended = time.monotonic() - origin

    tasks = [asyncio.create_task(play(step)) for step in scenario.steps]
    try:
        await asyncio.gather(*tasks)
    finally:
        # Cancelled (Ctrl-C): every step reverts what it injected; wait for all of them.
        for task in tasks:
            if not task.done():
                task.cancel()
        while not all(task.done() for task in tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
        _summary(chaos, scenario)
    return scenario.steps


def _summary(chaos: Chaos, scenario: Scenario) -> None:
    chaos.say("summary:")
    for step in scenario.steps:
        when = (
            f"{step.started:6.1f}s - {step.ended:6.1f}s"
            if step.started is not None and step.ended is not None
            else " " * 17
        )
        what = (
            describe_fault(step.request.kind, step.fault.targets, step.fault.parameters())
            if step.fault
            else step.request.kind
        )
        chaos.say(f"  line {step.line:<4} {when}  {what:<55} {step.outcome}")
