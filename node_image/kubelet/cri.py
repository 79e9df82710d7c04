"""A typed client for the container runtime's CRI gRPC API (runtime.v1) on a unix socket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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


class CRIClient:
    def __init__(
        self, socket_path: str = "/run/containerd/containerd.sock", timeout: float = 5.0
    ) -> None:
        self._channel = grpc.aio.insecure_channel(f"unix://{socket_path}")
        self._runtime = cri_pb2_grpc.RuntimeServiceStub(self._channel)
        self._images = cri_pb2_grpc.ImageServiceStub(self._channel)
        self._timeout = timeout

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
