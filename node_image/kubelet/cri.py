"""A typed client for the container runtime's CRI gRPC API (runtime.v1) on a unix socket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from ku7s.rpc import cri_pb2, cri_pb2_grpc

CRI_API_VERSION = "v1"


class RuntimeUnavailable(Exception):
    """The container runtime does not answer on its socket."""


@dataclass(frozen=True)
class RuntimeVersion:
    name: str
    version: str
    api_version: str

    @property
    def node_info_string(self) -> str:
        """The form Node.status.nodeInfo.containerRuntimeVersion takes: containerd://1.6.20."""
        return f"{self.name}://{self.version}"


@dataclass(frozen=True)
class RuntimeReadiness:
    runtime_ready: bool
    network_ready: bool
    reason: str = ""
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.runtime_ready and self.network_ready


#: Told of each CRI call: its request's type name, the seconds it took, whether it failed.
OperationObserver = Callable[[str, float, bool], None]


class CRIClient:
    def __init__(
        self,
        socket_path: str = "/run/containerd/containerd.sock",
        timeout: float = 5.0,
        observe: OperationObserver | None = None,
    ) -> None:
        self._channel = grpc.aio.insecure_channel(f"unix://{socket_path}")
        self._runtime = cri_pb2_grpc.RuntimeServiceStub(self._channel)
        self._images = cri_pb2_grpc.ImageServiceStub(self._channel)
        self._timeout = timeout
        #: The pod-facing calls, on the same connection.
        self.pods = PodRuntime(self._channel, observe=observe)

    async def close(self) -> None:
        await self._channel.close()

    async def version(self) -> RuntimeVersion:
        try:
            reply = await self._runtime.Version(
                cri_pb2.VersionRequest(version=CRI_API_VERSION), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as e:
            raise RuntimeUnavailable(e.details() or str(e.code())) from e
        return RuntimeVersion(reply.runtime_name, reply.runtime_version, reply.runtime_api_version)

    async def wait_for_version(self, attempts: int = 600, interval: float = 0.05) -> RuntimeVersion:
        """Wait for the runtime started beside us to answer."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                return await self.version()
            except RuntimeUnavailable as e:
                last = e
                await asyncio.sleep(interval)
        raise RuntimeUnavailable(f"container runtime did not answer: {last}")

    async def readiness(self) -> RuntimeReadiness:
        try:
            reply = await self._runtime.Status(cri_pb2.StatusRequest(), timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            return RuntimeReadiness(
                False, False, "ContainerRuntimeDown", f"container runtime is down: {e.details()}"
            )
        conditions = {c.type: c for c in reply.status.conditions}
        runtime, network = conditions.get("RuntimeReady"), conditions.get("NetworkReady")
        runtime_ok = bool(runtime and runtime.status)
        network_ok = bool(network and network.status)
        if not runtime_ok:
            return RuntimeReadiness(
                False,
                network_ok,
                "ContainerRuntimeNotReady",
                f"container runtime status check failed: "
                f"{runtime.message if runtime else 'no RuntimeReady'}",
            )
        if not network_ok:
            return RuntimeReadiness(
                True,
                False,
                "NetworkPluginNotReady",
                f"container runtime network not ready: "
                f"{network.message if network else 'no NetworkReady'}",
            )
        return RuntimeReadiness(True, True)

    async def image_tags(self) -> set[str]:
        reply = await self._images.ListImages(cri_pb2.ListImagesRequest(), timeout=self._timeout)
        return {tag for image in reply.images for tag in image.repo_tags}


class CRIError(Exception):
    """The runtime refused or failed a call; the message is the runtime's own."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _error(e: grpc.aio.AioRpcError) -> CRIError:
    return CRIError(e.code(), e.details() or e.code().name)


@dataclass(frozen=True)
class SandboxState:
    id: str
    ready: bool
    ip: str
    created_at: int


class PodRuntime:
    """The sandbox, container and image calls of CRI, each a thin typed wrapper.

    Calls that may wait on a container (stop, exec) get a deadline beyond their own timeout.
    """

    def __init__(
        self,
        channel: grpc.aio.Channel,
        timeout: float = 30.0,
        observe: OperationObserver | None = None,
    ) -> None:
        self._runtime = cri_pb2_grpc.RuntimeServiceStub(channel)
        self._images = cri_pb2_grpc.ImageServiceStub(channel)
        self._timeout = timeout
        self._observe = observe

    async def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        started, failed = time.perf_counter(), False
        try:
            return await method(request, timeout=timeout or self._timeout)
        except grpc.aio.AioRpcError as e:
            failed = True
            raise _error(e) from e
        finally:
            if self._observe is not None:
                self._observe(type(request).__name__, time.perf_counter() - started, failed)

    # -- sandboxes --

    async def run_sandbox(self, config: cri_pb2.PodSandboxConfig, handler: str = "") -> str:
        """Start the pod's sandbox with the named runtime handler ("" for the default)."""
        reply = await self._call(
            self._runtime.RunPodSandbox,
            cri_pb2.RunPodSandboxRequest(config=config, runtime_handler=handler),
        )
        return str(reply.pod_sandbox_id)

    async def stop_sandbox(self, sandbox_id: str) -> None:
        await self._call(
            self._runtime.StopPodSandbox, cri_pb2.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)
        )

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self._call(
            self._runtime.RemovePodSandbox,
            cri_pb2.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
        )

    async def sandbox_state(self, sandbox_id: str) -> SandboxState:
        reply = await self._call(
            self._runtime.PodSandboxStatus,
            cri_pb2.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id),
        )
        status = reply.status
        return SandboxState(
            status.id,
            status.state == cri_pb2.SANDBOX_READY,
            status.network.ip,
            status.created_at,
        )

    async def sandbox_pid(self, sandbox_id: str) -> int:
        """The sandbox's process (whose namespaces the pod's containers share)."""
        reply = await self._call(
            self._runtime.PodSandboxStatus,
            cri_pb2.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True),
        )
        try:
            return int(json.loads(reply.info.get("info", "{}")).get("pid", 0))
        except (ValueError, TypeError):
            return 0

    async def list_sandboxes(self) -> list[cri_pb2.PodSandbox]:
        reply = await self._call(self._runtime.ListPodSandbox, cri_pb2.ListPodSandboxRequest())
        return list(reply.items)

    # -- containers --

    async def create_container(
        self,
        sandbox_id: str,
        config: cri_pb2.ContainerConfig,
        sandbox_config: cri_pb2.PodSandboxConfig,
    ) -> str:
        reply = await self._call(
            self._runtime.CreateContainer,
            cri_pb2.CreateContainerRequest(
                pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config
            ),
        )
        return str(reply.container_id)

    async def start_container(self, container_id: str) -> None:
        await self._call(
            self._runtime.StartContainer, cri_pb2.StartContainerRequest(container_id=container_id)
        )

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after grace_seconds."""
        await self._call(
            self._runtime.StopContainer,
            cri_pb2.StopContainerRequest(container_id=container_id, timeout=grace_seconds),
            timeout=grace_seconds + self._timeout,
        )

    async def remove_container(self, container_id: str) -> None:
        await self._call(
            self._runtime.RemoveContainer,
            cri_pb2.RemoveContainerRequest(container_id=container_id),
        )

    async def list_containers(self) -> list[cri_pb2.Container]:
        reply = await self._call(self._runtime.ListContainers, cri_pb2.ListContainersRequest())
        return list(reply.containers)

    async def container_status(self, container_id: str) -> cri_pb2.ContainerStatus:
        reply = await self._call(
            self._runtime.ContainerStatus,
            cri_pb2.ContainerStatusRequest(container_id=container_id),
        )
        return reply.status

    # -- exec and streams --

    async def exec_sync(
        self, container_id: str, command: list[str], timeout_seconds: int
    ) -> cri_pb2.ExecSyncResponse:
        return await self._call(
            self._runtime.ExecSync,
            cri_pb2.ExecSyncRequest(
                container_id=container_id, cmd=command, timeout=timeout_seconds
            ),
            timeout=timeout_seconds + self._timeout,
        )

    async def exec_url(self, request: cri_pb2.ExecRequest) -> str:
        return str((await self._call(self._runtime.Exec, request)).url)

    async def attach_url(self, request: cri_pb2.AttachRequest) -> str:
        return str((await self._call(self._runtime.Attach, request)).url)

    async def port_forward_url(self, sandbox_id: str) -> str:
        reply = await self._call(
            self._runtime.PortForward, cri_pb2.PortForwardRequest(pod_sandbox_id=sandbox_id)
        )
        return str(reply.url)

    # -- images --

    async def image(self, reference: str) -> cri_pb2.Image | None:
        """The image as the runtime has it, or None when it is not on the node."""
        reply = await self._call(
            self._images.ImageStatus,
            cri_pb2.ImageStatusRequest(image=cri_pb2.ImageSpec(image=reference)),
        )
        return reply.image if reply.image.id else None
