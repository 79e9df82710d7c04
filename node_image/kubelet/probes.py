"""Liveness, readiness and startup probes of one running container.

Each probe runs on its own timer (initialDelaySeconds, then every periodSeconds, each try
bounded by timeoutSeconds) and flips its result after successThreshold successes or
failureThreshold failures in a row. Liveness and readiness wait for the startup probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Object = dict[str, Any]
ExecSync = Callable[[str, list[str], int], Awaitable[tuple[int, bytes]]]

log = logging.getLogger("kubelet")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""


def named_port(container: Object, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"port {port!r} is not declared by the container")


async def run_probe(
    probe: Object,
    container: Object,
    container_id: str,
    pod_ip: str,
    exec_sync: ExecSync,
) -> Outcome:
    """One try of the probe's handler."""
    timeout = int(probe.get("timeoutSeconds", 1))
    try:
        if "exec" in probe:
            command = list(probe["exec"].get("command") or [])
            code, output = await exec_sync(container_id, command, timeout)
            if code == 0:
                return Outcome(True)
            text = output.decode(errors="replace").strip()
            return Outcome(False, text or f"command {command} exited with {code}")
        if "httpGet" in probe:
            return await _http_get(probe["httpGet"], container, pod_ip, timeout)
        if "tcpSocket" in probe:
            action = probe["tcpSocket"]
            port = named_port(container, action.get("port", 0))
            host = action.get("host") or pod_ip
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            except (OSError, TimeoutError) as e:
                return Outcome(False, f"dial tcp {host}:{port}: {e or 'i/o timeout'}")
            writer.close()
            return Outcome(True)
        return Outcome(False, "probe has no handler that ku7s supports (exec, httpGet, tcpSocket)")
    except ValueError as e:
        return Outcome(False, str(e))


async def _http_get(action: Object, container: Object, pod_ip: str, timeout: int) -> Outcome:
    import aiohttp  # only pods with HTTP probes need it: kept off the kubelet's start-up

    port = named_port(container, action.get("port", 80))
    scheme = str(action.get("scheme", "HTTP")).lower()
    host = action.get("host") or pod_ip
    path = action.get("path", "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {h["name"]: h.get("value", "") for h in action.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/1.33")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, ssl=False, allow_redirects=False) as response,
        ):
            if 200 <= response.status < 400:
                return Outcome(True)
            return Outcome(False, f"HTTP probe failed with statuscode: {response.status}")
    except TimeoutError:
        return Outcome(
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
            "headers)",
        )
    except aiohttp.ClientError as e:
        return Outcome(False, f'Get "{url}": {e}')


class ProbeWorker:
    """One probe of one container instance; calls on_change when its result flips."""

    def __init__(
        self,
        kind: str,
        probe: Object,
        container: Object,
        container_id: str,
        pod_ip: str,
        exec_sync: ExecSync,
        on_change: Callable[[ProbeWorker], None],
        gate: asyncio.Event | None = None,
    ) -> None:
        self.kind = kind
        self._probe = probe
        self._container = container
        self._container_id = container_id
        self._pod_ip = pod_ip
        self._exec_sync = exec_sync
        self._on_change = on_change
        self._gate = gate
        #: Readiness starts failed, liveness and startup start passing (upstream's defaults).
        self.ok = kind != "readiness"
        self.message = ""
        self.done = asyncio.Event()  # set when a startup probe has succeeded

    async def run(self) -> None:
        probe = self._probe
        period = max(1, int(probe.get("periodSeconds", 10)))
        success_needed = max(1, int(probe.get("successThreshold", 1)))
        failure_needed = max(1, int(probe.get("failureThreshold", 3)))
        if self._gate is not None:
            await self._gate.wait()
        await asyncio.sleep(max(0, int(probe.get("initialDelaySeconds", 0))))
        successes = failures = 0
        if self.kind == "startup":
            self.ok = False
        while True:
            outcome = await run_probe(
                probe, self._container, self._container_id, self._pod_ip, self._exec_sync
            )
            if outcome.ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.message = outcome.message
            flipped = False
            if not self.ok and successes >= success_needed:
                self.ok, flipped = True, True
            elif self.ok and failures >= failure_needed:
                self.ok, flipped = False, True
            elif self.kind == "startup" and failures >= failure_needed:
                flipped = True  # a startup probe that never passed: the container is killed
            if flipped:
                self._on_change(self)
            if self.kind == "startup" and self.ok:
                self.done.set()
                return
            await asyncio.sleep(period)


class ContainerProbes:
    """The probes of one running container instance."""

    def __init__(
        self,
        container: Object,
        container_id: str,
        pod_ip: str,
        exec_sync: ExecSync,
        on_change: Callable[[], None],
    ) -> None:
        self.container_id = container_id
        self.failed_liveness: str | None = None
        self.failed_startup: str | None = None
        self._on_change = on_change
        self._tasks: list[asyncio.Task[None]] = []
        self._workers: dict[str, ProbeWorker] = {}
        startup = container.get("startupProbe")
        gate: asyncio.Event | None = None
        if startup:
            worker = ProbeWorker(
                "startup", startup, container, container_id, pod_ip, exec_sync, self._changed
            )
            self._workers["startup"] = worker
            gate = worker.done
        for kind in ("liveness", "readiness"):
            probe = container.get(f"{kind}Probe")
            if probe:
                self._workers[kind] = ProbeWorker(
                    kind, probe, container, container_id, pod_ip, exec_sync, self._changed, gate
                )

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(w.run()) for w in self._workers.values()]

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    @property
    def started(self) -> bool:
        startup = self._workers.get("startup")
        return startup is None or startup.ok

    @property
    def ready(self) -> bool:
        readiness = self._workers.get("readiness")
        return self.started and (readiness is None or readiness.ok)

    def _changed(self, worker: ProbeWorker) -> None:
        if worker.kind == "liveness" and not worker.ok:
            self.failed_liveness = worker.message
        if worker.kind == "startup" and not worker.ok:
            self.failed_startup = worker.message
        self._on_change()

    def readiness_message(self) -> str:
        readiness = self._workers.get("readiness")
        return readiness.message if readiness is not None and not readiness.ok else ""
