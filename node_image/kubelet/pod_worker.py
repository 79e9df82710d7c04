"""One pod's life on the node: sandbox, init containers in order, app containers, restarts
with back-off, probes, and graceful termination, reported as the pod's status.

The worker wakes when the pod changes in the API, when the runtime view sees its
containers change, when a probe flips, or when a back-off ends; each time it compares the
pod spec with what the runtime holds and takes the next steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ku7s.api import meta
from ku7s.rpc import cri_pb2
from node_image.kubelet import container_config as cc
from node_image.kubelet.cgroups import PodCgroups
from node_image.kubelet.cri import CRIError, PodRuntime
from node_image.kubelet.environment import (
    ConfigError,
    ObjectSource,
    container_environment,
    expand_all,
)
from node_image.kubelet.etc_hosts import hosts_file
from node_image.kubelet.metrics import KubeletMetrics
from node_image.kubelet.pod_status import (
    CREATED,
    EXITED,
    RUNNING,
    ContainerRecord,
    Observed,
    observe,
    phase,
    pod_status,
    stamp_transitions,
)
from node_image.kubelet.probes import ContainerProbes
from node_image.kubelet.reporter import Reporter
from node_image.kubelet.restart_backoff import RestartBackoff, go_duration
from node_image.kubelet.restart_policy import (
    BACK_OFF,
    CREATE,
    DONE,
    KEEP,
    REPLACE,
    START,
    next_step,
)
from node_image.kubelet.runtime_view import PodRuntimeState, RuntimeView
from node_image.kubelet.sandbox_config import ClusterDNS, log_directory, sandbox_config
from node_image.kubelet.termination_message import termination_message
from node_image.kubelet.volumes import PodVolumes, VolumeError, VolumeNotAttached

Object = dict[str, Any]

log = logging.getLogger("kubelet")

#: How soon a missing image, a missing config map or a failed sandbox is tried again.
RETRY_INTERVAL = 2.0
#: How often a settled pod is looked at anyway (volumes refreshed, status checked).
RESYNC_INTERVAL = 10.0
#: How often a pod waiting for its disk to be attached looks, and how long it waits before
#: an event says so.
ATTACH_POLL = 0.25
ATTACH_PATIENCE = 10.0


@dataclass(frozen=True)
class WorkerContext:
    """What every pod worker of a node shares."""

    runtime: PodRuntime
    view: RuntimeView
    reporter: Reporter
    volumes: PodVolumes
    objects: ObjectSource
    cgroups: PodCgroups
    dns: ClusterDNS
    node_ip: str
    node_allocatable: Object
    pods_dir: Path
    metrics: KubeletMetrics | None = None


def _volume_inputs(pod: Object) -> tuple[Any, Any]:
    metadata = pod.get("metadata") or {}
    return metadata.get("labels"), metadata.get("annotations")


class PodWorker:
    def __init__(self, pod: Object, context: WorkerContext, runtime_handler: str = "") -> None:
        self.pod = pod
        self.uid = meta.uid_of(pod)
        self._ctx = context
        #: The CRI handler the pod's RuntimeClass names (its runtimeClassName never changes).
        self._runtime_handler = runtime_handler
        self._wake = asyncio.Event()
        self._removed = False
        self._observed = Observed(host_ip=context.node_ip)
        self._records: dict[str, ContainerRecord] = {}
        self._backoff = RestartBackoff()
        self._retry_at: float | None = None
        self._probes: dict[str, ContainerProbes] = {}  # container id -> its probes
        self._restart_anyway: set[str] = set()
        self._volume_paths: dict[str, Path] | None = None
        self._attach_wait_since: float | None = None
        self._sandbox_ip: dict[str, str] = {}
        self._last_status: Object | None = pod.get("status")
        self._last_failure: dict[str, str] = {}  # container -> message of the last event
        self._finished = False
        self._acted = True  # start from a fresh look at the runtime
        self._last_refresh = 0.0
        self._metadata_changed = False
        self.done = asyncio.Event()

    # -- inputs --

    def update(self, pod: Object) -> None:
        if _volume_inputs(pod) != _volume_inputs(self.pod):
            # As upstream: a pod update refreshes its file volumes (and the downward API
            # reads the new labels), so touching a pod brings a changed ConfigMap at once.
            self._metadata_changed = True
        self.pod = pod
        self._wake.set()

    def remove(self) -> None:
        """The pod object is gone from the API: stop everything, report nothing."""
        self._removed = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def observed(self) -> Observed:
        """What the worker last saw of the pod's containers (the kubelet API reads it)."""
        return self._observed

    @property
    def terminating(self) -> bool:
        return self._removed or bool(self.pod["metadata"].get("deletionTimestamp"))

    # -- the loop --

    async def run(self) -> None:
        await self._ctx.view.listed.wait()
        try:
            while True:
                self._wake.clear()
                try:
                    if self.terminating:
                        await self._terminate()
                        return
                    await self._sync()
                except (CRIError, OSError) as e:
                    log.warning("pod %s: %s", self._name(), getattr(e, "message", e))
                    self._retry_after(RETRY_INTERVAL)
                await self._sleep()
        finally:
            for probes in self._probes.values():
                probes.stop()
            self.done.set()

    async def _sleep(self) -> None:
        timeout = RESYNC_INTERVAL
        if self._retry_at is not None:
            timeout = max(0.0, min(timeout, self._retry_at - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _retry_after(self, seconds: float) -> None:
        at = time.monotonic() + seconds
        if self._retry_at is None or at < self._retry_at or self._retry_at <= time.monotonic():
            self._retry_at = at

    def _name(self) -> str:
        return f"{meta.namespace_of(self.pod)}/{meta.name_of(self.pod)}"

    def _event(self, kind: str, reason: str, message: str, container: str | None = None) -> None:
        self._ctx.reporter.event(self.pod, kind, reason, message, container)

    # -- sync --

    async def _state(self) -> PodRuntimeState:
        if self._acted:
            await self._ctx.view.fresh()
            self._acted = False
        return self._ctx.view.pod(self.uid)

    async def _sync(self) -> None:
        self._retry_at = None
        spec = self.pod.get("spec") or {}
        state = await self._state()
        await self._refresh_records(state)
        if self._finished:
            self._report()
            return
        if self._volume_paths is None:
            try:
                self._volume_paths = await self._ctx.volumes.set_up(self.pod)
            except VolumeNotAttached as e:
                # The cloud is attaching the disk; said only if it takes long.
                now = time.monotonic()
                self._attach_wait_since = self._attach_wait_since or now
                if now - self._attach_wait_since > ATTACH_PATIENCE:
                    self._once("volumes", "Warning", "FailedMount", str(e))
                self._retry_after(ATTACH_POLL)
                self._report()
                return
            except (VolumeError, ConfigError) as e:
                self._once("volumes", "Warning", "FailedMount", str(e))
                self._retry_after(RETRY_INTERVAL)
                self._report()
                return
        elif (
            time.monotonic() - self._last_refresh >= RESYNC_INTERVAL
            or self._token_due()
            or self._metadata_changed
        ):
            if self._metadata_changed:
                self._ctx.objects.forget(meta.namespace_of(self.pod))
            self._metadata_changed = False
            self._last_refresh = time.monotonic()
            await self._ctx.volumes.refresh(self.pod)
        renewal = self._ctx.volumes.seconds_to_token_renewal(self.uid)
        if renewal is not None and renewal < RESYNC_INTERVAL:
            self._retry_after(renewal)
        sandbox_id = await self._ensure_sandbox(state)
        if sandbox_id is None:
            self._report()
            return
        state = self._ctx.view.pod(self.uid)
        self._handle_probe_verdicts()
        if await self._run_init_containers(spec, sandbox_id):
            for container in spec.get("containers") or []:
                await self._ensure_container(container, spec, sandbox_id, init=False)
        self._start_probes(spec)
        await self._collect_garbage(state, sandbox_id)
        if phase(spec, self._observed) in ("Succeeded", "Failed"):
            await self._finish(sandbox_id)
        self._report()

    def _once(
        self, key: str, kind: str, reason: str, message: str, container: str | None = None
    ) -> None:
        """An event, unless the same one was the last for this key."""
        if self._last_failure.get(key) != message:
            self._last_failure[key] = message
            self._event(kind, reason, message, container)

    # -- the runtime's view of this pod --

    def _token_due(self) -> bool:
        return self._ctx.volumes.seconds_to_token_renewal(self.uid) == 0.0

    async def _refresh_records(self, state: PodRuntimeState) -> None:
        """Details of each container instance, asked of the runtime only when its state
        changed since last time."""
        fresh: dict[str, ContainerRecord] = {}
        for entry in state.containers:
            known = self._records.get(entry.id)
            if known is not None and known.state == entry.state:
                fresh[entry.id] = known
                continue
            record = ContainerRecord(
                entry.id,
                entry.name,
                entry.sandbox_id,
                entry.state,
                entry.restart_count,
                entry.spec_hash,
                entry.created_at,
                image_ref=entry.image_ref,
            )
            try:
                details = await self._ctx.runtime.container_status(entry.id)
            except CRIError:
                continue  # removed meanwhile
            record.state = details.state
            record.started_at, record.finished_at = details.started_at, details.finished_at
            record.exit_code, record.reason = details.exit_code, details.reason
            record.image_ref = details.image_ref or record.image_ref
            if record.state == EXITED:
                record.message = self._termination_message(record, details)
            fresh[entry.id] = record
        self._records = fresh
        for container_id in list(self._probes):
            instance = fresh.get(container_id)
            if instance is None or instance.state != RUNNING:
                self._probes.pop(container_id).stop()
        observe(self._observed, fresh.values(), self._probes)

    def _termination_message(
        self, record: ContainerRecord, details: cri_pb2.ContainerStatus
    ) -> str:
        return termination_message(
            self._container_dir(record.name, record.restart_count) / "termination-log",
            self._container_spec(record.name) or {}, record.exit_code,
            details.log_path if details.log_path else "", details.message,
        )  # fmt: skip

    def _container_spec(self, name: str) -> Object | None:
        spec = self.pod.get("spec") or {}
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            if container.get("name") == name:
                return dict(container)
        return None

    def _container_dir(self, name: str, restart_count: int) -> Path:
        return self._ctx.pods_dir / self.uid / "containers" / name / str(restart_count)

    # -- sandbox --

    async def _ensure_sandbox(self, state: PodRuntimeState) -> str | None:
        sandbox = state.newest_sandbox()
        if sandbox is not None and sandbox.ready:
            if sandbox.id not in self._sandbox_ip:
                self._sandbox_ip[sandbox.id] = (
                    await self._ctx.runtime.sandbox_state(sandbox.id)
                ).ip
            self._observed.sandbox_ready = True
            self._observed.pod_ip = self._sandbox_ip[sandbox.id]
            return sandbox.id
        self._observed.sandbox_ready = False
        if sandbox is not None:
            self._once(
                "sandbox",
                "Normal",
                "SandboxChanged",
                "Pod sandbox changed, it will be killed and re-created.",
            )
            with contextlib.suppress(CRIError):
                await self._ctx.runtime.stop_sandbox(sandbox.id)
        attempt = sandbox.attempt + 1 if sandbox is not None else 0
        qos = (self.pod.get("status") or {}).get("qosClass", "BestEffort")
        config = sandbox_config(
            self.pod, attempt, self._ctx.cgroups.parent(self.uid, qos), self._ctx.dns
        )
        Path(config.log_directory).mkdir(parents=True, exist_ok=True)
        self._acted = True
        try:
            sandbox_id = await self._ctx.runtime.run_sandbox(config, self._runtime_handler)
        except CRIError as e:
            self._once(
                "sandbox",
                "Warning",
                "FailedCreatePodSandBox",
                f"Failed to create pod sandbox: {e.message}",
            )
            self._retry_after(RETRY_INTERVAL)
            return None
        ip = (await self._ctx.runtime.sandbox_state(sandbox_id)).ip
        self._sandbox_ip[sandbox_id] = ip
        self._observed.sandbox_ready = True
        self._observed.pod_ip = ip
        self._write_etc_hosts(ip)
        return sandbox_id

    def _etc_hosts_path(self) -> Path:
        return self._ctx.pods_dir / self.uid / "etc-hosts"

    def _write_etc_hosts(self, ip: str) -> None:
        path = self._etc_hosts_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(hosts_file(self.pod, ip))

    # -- containers --

    async def _run_init_containers(self, spec: Object, sandbox_id: str) -> bool:
        """Run the init containers one at a time; True once all have succeeded."""
        for init in spec.get("initContainers") or []:
            latest = self._observed.latest.get(init["name"])
            if latest is not None and latest.succeeded:
                continue
            await self._ensure_container(init, spec, sandbox_id, init=True)
            return False
        return True

    async def _ensure_container(
        self, container: Object, spec: Object, sandbox_id: str, *, init: bool
    ) -> None:
        name = container["name"]
        step = next_step(
            container, self._observed.latest.get(name), sandbox_id,
            spec.get("restartPolicy", "Always"), init=init,
            restart_anyway=name in self._restart_anyway, backoff=self._backoff,
        )  # fmt: skip
        if step.action in (KEEP, REPLACE, DONE):
            self._observed.waiting.pop(name, None)
        if step.action == REPLACE and step.record is not None:
            changed = f"Container {name} definition changed, will be restarted"
            self._event("Normal", "Killing", changed, name)
            self._restart_anyway.add(name)
            await self._stop(step.record, self._grace())
        elif step.action == START and step.record is not None:
            await self._start(container, step.record.id)
        elif step.action == BACK_OFF:
            pod = f"{meta.name_of(self.pod)}_{meta.namespace_of(self.pod)}({self.uid})"
            self._observed.waiting[name] = (
                "CrashLoopBackOff",
                f"back-off {go_duration(step.delay)} restarting failed container={name} pod={pod}",
            )
            backing_off = f"Back-off restarting failed container {name} in pod {pod}"
            self._event("Warning", "BackOff", backing_off, name)
            self._retry_after(step.wait)
        elif step.action == CREATE:
            self._restart_anyway.discard(name)
            await self._create(container, spec, sandbox_id, step.restart_count)

    async def _create(
        self, container: Object, spec: Object, sandbox_id: str, restart_count: int
    ) -> None:
        name = container["name"]
        image = container.get("image", "")
        present = await self._ctx.runtime.image(image)
        if present is None:
            if container.get("imagePullPolicy") == "Never":
                reason = "ErrImageNeverPull"
                message = f'Container image "{image}" is not present with pull policy of Never'
            else:
                reason = "ImagePullBackOff"
                message = (
                    f'Back-off pulling image "{image}": the image is not on this node and '
                    f"ku7s nodes pull from no registry; load it with `ku7s load image {image}`"
                )
            self._observed.waiting[name] = (reason, message)
            self._once(name, "Warning", "Failed", f"Error: {reason}: {message}", name)
            self._retry_after(RETRY_INTERVAL)
            return
        try:
            env = await container_environment(
                self.pod, container, self._ctx.objects, self._ctx.node_allocatable
            )
        except ConfigError as e:
            self._observed.waiting[name] = ("CreateContainerConfigError", str(e))
            self._once(name, "Warning", "Failed", f"Error: {e}", name)
            self._retry_after(RETRY_INTERVAL)
            return
        self._once(
            f"{name}/pulled",
            "Normal",
            "Pulled",
            f'Container image "{image}" already present on machine',
            name,
        )
        directory = self._container_dir(name, restart_count)
        directory.mkdir(parents=True, exist_ok=True)
        termination_log = directory / "termination-log"
        termination_log.touch()
        hosts = None if spec.get("hostNetwork") else self._etc_hosts_path()
        if hosts is not None and not hosts.exists():
            self._write_etc_hosts(self._observed.pod_ip)
        qos = (self.pod.get("status") or {}).get("qosClass", "BestEffort")
        config = cc.container_config(
            self.pod,
            container,
            restart_count=restart_count,
            env=env,
            command=expand_all(container.get("command") or [], env),
            args=expand_all(container.get("args") or [], env),
            mounts=cc.mounts(
                container,
                self._volume_paths or {},
                cc.ContainerFiles(hosts, termination_log),
                cc.read_only_volumes(spec),
            ),
            qos_class=qos,
        )
        attempt = self._ctx.view.pod(self.uid).newest_sandbox()
        sandbox = sandbox_config(
            self.pod,
            attempt.attempt if attempt is not None else 0,
            self._ctx.cgroups.parent(self.uid, qos),
            self._ctx.dns,
        )
        self._acted = True
        try:
            container_id = await self._ctx.runtime.create_container(sandbox_id, config, sandbox)
        except CRIError as e:
            self._observed.waiting[name] = ("CreateContainerError", e.message)
            self._once(name, "Warning", "Failed", f"Error: {e.message}", name)
            self._retry_after(RETRY_INTERVAL)
            return
        self._event("Normal", "Created", f"Created container {name}", name)
        await self._start(container, container_id)

    async def _start(self, container: Object, container_id: str) -> None:
        name = container["name"]
        self._acted = True
        try:
            await self._ctx.runtime.start_container(container_id)
        except CRIError as e:
            self._observed.waiting[name] = ("RunContainerError", e.message)
            self._once(name, "Warning", "Failed", f"Error: {e.message}", name)
            self._retry_after(RETRY_INTERVAL)
            return
        self._observed.waiting.pop(name, None)
        self._last_failure.pop(name, None)
        self._event("Normal", "Started", f"Started container {name}", name)

    async def _stop(self, record: ContainerRecord, grace: int) -> None:
        self._acted = True
        probes = self._probes.pop(record.id, None)
        if probes is not None:
            probes.stop()
        with contextlib.suppress(CRIError):
            await self._ctx.runtime.stop_container(record.id, grace)

    def _grace(self) -> int:
        metadata, spec = self.pod["metadata"], self.pod.get("spec") or {}
        if metadata.get("deletionGracePeriodSeconds") is not None:
            return int(metadata["deletionGracePeriodSeconds"])
        return int(spec.get("terminationGracePeriodSeconds", 30))

    # -- probes --

    def _start_probes(self, spec: Object) -> None:
        for container in spec.get("containers") or []:
            latest = self._observed.latest.get(container["name"])
            if latest is None or latest.state != RUNNING or latest.id in self._probes:
                continue
            if not any(container.get(f"{k}Probe") for k in ("liveness", "readiness", "startup")):
                continue
            probes = ContainerProbes(
                container, latest.id, self._observed.pod_ip, self._exec_sync, self.wake
            )
            self._probes[latest.id] = probes
            probes.start()
            self._observed.ready.discard(container["name"])
            if not probes.started:
                self._observed.started.discard(container["name"])

    async def _exec_sync(
        self, container_id: str, command: list[str], timeout: int
    ) -> tuple[int, bytes]:
        reply = await self._ctx.runtime.exec_sync(container_id, command, timeout)
        return int(reply.exit_code), bytes(reply.stdout) + bytes(reply.stderr)

    def _handle_probe_verdicts(self) -> None:
        for record in list(self._observed.latest.values()):
            probes = self._probes.get(record.id)
            if probes is None:
                continue
            if probes.failed_liveness is not None or probes.failed_startup is not None:
                which = "Liveness" if probes.failed_liveness is not None else "Startup"
                message = probes.failed_liveness or probes.failed_startup or ""
                self._event("Warning", "Unhealthy", f"{which} probe failed: {message}", record.name)
                self._event(
                    "Normal",
                    "Killing",
                    f"Container {record.name} failed {which.lower()} probe, will be restarted",
                    record.name,
                )
                self._restart_anyway.add(record.name)
                task = asyncio.get_running_loop().create_task(self._stop(record, self._grace()))
                task.add_done_callback(lambda _: self.wake())
            elif not probes.ready and probes.readiness_message():
                self._once(
                    f"{record.name}/readiness",
                    "Warning",
                    "Unhealthy",
                    f"Readiness probe failed: {probes.readiness_message()}",
                    record.name,
                )

    # -- clean-up and completion --

    async def _collect_garbage(self, state: PodRuntimeState, sandbox_id: str) -> None:
        """Keep the newest two instances of each container (for logs --previous); remove
        older ones and sandboxes that were replaced."""
        keep = {r.id for r in self._observed.latest.values()} | {
            r.id for r in self._observed.previous.values()
        }
        for record in list(self._records.values()):
            if record.id not in keep and record.state == EXITED:
                self._acted = True
                with contextlib.suppress(CRIError):
                    await self._ctx.runtime.remove_container(record.id)
        for sandbox in state.sandboxes:
            if sandbox.id != sandbox_id and not any(
                r.sandbox_id == sandbox.id for r in self._records.values() if r.id in keep
            ):
                self._acted = True
                with contextlib.suppress(CRIError):
                    await self._ctx.runtime.stop_sandbox(sandbox.id)
                    await self._ctx.runtime.remove_sandbox(sandbox.id)

    async def _finish(self, sandbox_id: str) -> None:
        """Every container is done for good: free the pod's address, keep its logs."""
        self._finished = True
        self._observed.sandbox_ready = False
        for probes in self._probes.values():
            probes.stop()
        self._probes.clear()
        with contextlib.suppress(CRIError):
            await self._ctx.runtime.stop_sandbox(sandbox_id)

    async def _terminate(self) -> None:
        grace = self._grace() if not self._removed else 0
        state = await self._state()
        await self._refresh_records(state)
        running = [r for r in self._records.values() if r.state in (RUNNING, CREATED)]
        for record in running:
            self._event("Normal", "Killing", f"Stopping container {record.name}", record.name)
        for probes in self._probes.values():
            probes.stop()
        self._probes.clear()
        await asyncio.gather(*(self._stop(r, grace) for r in running))
        for sandbox in state.sandboxes:
            with contextlib.suppress(CRIError):
                await self._ctx.runtime.stop_sandbox(sandbox.id)
        self._acted = True
        state = await self._state()
        await self._refresh_records(state)
        if not self._removed:
            self._observed.sandbox_ready = False
            self._observed.waiting.clear()
            final_spec = {**(self.pod.get("spec") or {}), "restartPolicy": "Never"}
            status = pod_status({**self.pod, "spec": final_spec}, self._observed)
            self._send(status)
            self._ctx.reporter.terminated(self.pod)
        for sandbox in state.sandboxes:
            with contextlib.suppress(CRIError):
                await self._ctx.runtime.remove_sandbox(sandbox.id)
        self._ctx.view.relist_soon()
        await self._ctx.volumes.tear_down(self.uid)
        shutil.rmtree(log_directory(self.pod), ignore_errors=True)
        qos = (self.pod.get("status") or {}).get("qosClass", "BestEffort")
        self._ctx.cgroups.remove(self.uid, qos)
        log.info("pod %s stopped and removed", self._name())

    # -- status --

    def _report(self) -> None:
        if self._removed:
            return
        if not self._observed.start_time:
            self._observed.start_time = (self.pod.get("status") or {}).get(
                "startTime"
            ) or meta.now_rfc3339()
        self._send(pod_status(self.pod, self._observed))

    def _send(self, status: Object) -> None:
        stamp_transitions(status, self._last_status, meta.now_rfc3339())
        if status != self._last_status:
            self._last_status = status
            self._ctx.reporter.status(self.pod, status)
