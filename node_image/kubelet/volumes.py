"""A pod's volumes on the node: directories under the kubelet's pod directory that the
containers' mounts point at.

emptyDir (on disk, or tmpfs for medium Memory), hostPath (with its type checks), the
file volumes (configMap, secret, downwardAPI, projected), written atomically and kept up
to date by refresh(), and claims (persistentVolumeClaim) whose volume is a directory of
this node (hostPath or local) or a disk of the mock cloud, which the cloud attaches to the
node under DISKS_ROOT (the kubelet waits for it there).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import shutil
import stat
from pathlib import Path
from typing import Any, Protocol

from ku7s.api.persistent_volumes import (
    DISKS_ROOT,
    LOCAL_PATH_ROOT,
    VOLUME_SOURCES,
    disk_handle,
    ephemeral_claim_name,
)
from ku7s.api.quantity import parse_quantity
from node_image.kubelet import atomic_writer
from node_image.kubelet.environment import ConfigError, ObjectSource, field_value, resource_value

Object = dict[str, Any]

log = logging.getLogger("kubelet")

_PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
_FILE_VOLUMES = ("configMap", "secret", "downwardAPI", "projected")


class VolumeError(Exception):
    """A volume cannot be set up (FailedMount upstream)."""


class VolumeNotAttached(VolumeError):
    """The pod's disk is not attached to this node yet: worth looking again soon."""


def volume_type(volume: Object) -> str:
    for key in volume:
        if key != "name":
            return key
    return ""


class TokenSource(Protocol):
    """Service account tokens for a pod (the kubelet's token manager)."""

    async def token(self, pod: Object, audience: str, expiration_seconds: int) -> str: ...

    def forget(self, pod_uid: str) -> None: ...

    def seconds_to_renewal(self, pod_uid: str) -> float | None: ...


class PodVolumes:
    def __init__(
        self,
        pods_dir: Path,
        objects: ObjectSource,
        node_allocatable: Object | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self._pods_dir = pods_dir
        self._objects = objects
        self._allocatable = node_allocatable or {}
        self._tokens = tokens

    def pod_dir(self, pod_uid: str) -> Path:
        return self._pods_dir / pod_uid

    async def set_up(self, pod: Object) -> dict[str, Path]:
        """Each volume's directory (or file, for some hostPaths) by volume name."""
        uid = pod["metadata"]["uid"]
        paths: dict[str, Path] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name, kind = volume.get("name", ""), volume_type(volume)
            try:
                paths[name] = await self._set_up_one(pod, uid, name, kind, volume[kind] or {})
            except ConfigError as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from e
        return paths

    def seconds_to_token_renewal(self, pod_uid: str) -> float | None:
        """How long until a token in the pod's volumes needs renewing (None: no tokens)."""
        return self._tokens.seconds_to_renewal(pod_uid) if self._tokens else None

    async def refresh(self, pod: Object) -> None:
        """Bring config map, secret and downward API volumes up to date."""
        uid = pod["metadata"]["uid"]
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            kind = volume_type(volume)
            if kind in _FILE_VOLUMES:
                with contextlib.suppress(ConfigError, VolumeError, OSError):
                    await self._set_up_one(pod, uid, volume["name"], kind, volume[kind] or {})

    async def _set_up_one(
        self, pod: Object, uid: str, name: str, kind: str, source: Object
    ) -> Path:
        if kind == "hostPath":
            return _host_path(source)
        if kind == "persistentVolumeClaim":
            return await self._claimed(pod, source)
        if kind == "ephemeral":
            return await self._claimed(pod, {"claimName": ephemeral_claim_name(pod, name)}, pod)
        if kind not in _PLUGIN_DIRS:
            raise VolumeError(
                f'volume "{name}": {kind or "this"} volumes are not supported by ku7s'
            )
        directory = self.pod_dir(uid) / "volumes" / _PLUGIN_DIRS[kind] / name
        if kind == "emptyDir":
            await _empty_dir(directory, source)
            return directory
        payload = await self._payload(pod, kind, source)
        if payload is not None:
            atomic_writer.write(directory, payload)
        else:
            directory.mkdir(parents=True, exist_ok=True)  # optional and missing: empty
        return directory

    async def _claimed(self, pod: Object, source: Object, owner: Object | None = None) -> Path:
        """The directory of the volume bound to the claim (which owner must own, for an
        ephemeral volume's)."""
        namespace, claim_name = pod["metadata"].get("namespace", ""), source.get("claimName", "")
        claim = await self._objects.get("persistentvolumeclaims", namespace, claim_name)
        if claim is None:
            raise ConfigError(f'persistentvolumeclaim "{claim_name}" not found')
        owners = [r.get("uid") for r in claim["metadata"].get("ownerReferences") or []]
        if owner is not None and owner["metadata"].get("uid") not in owners:
            raise ConfigError(f"PVC {namespace}/{claim_name} was not created for the pod")
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name or (claim.get("status") or {}).get("phase") != "Bound":
            raise ConfigError(f'persistentvolumeclaim "{claim_name}" is not bound')
        volume = await self._objects.get("persistentvolumes", "", volume_name)
        if volume is None:
            raise ConfigError(f'persistentvolume "{volume_name}" not found')
        spec = volume.get("spec") or {}
        if "hostPath" in spec:
            path = _host_path(spec["hostPath"] or {})
            if path.parent == Path(LOCAL_PATH_ROOT):
                path.chmod(0o777)  # as kind's provisioner: any pod user may write
            return path
        if "local" in spec:
            return _host_path({"path": (spec["local"] or {}).get("path", ""), "type": "Directory"})
        handle = disk_handle(volume)
        if handle:
            path = Path(DISKS_ROOT) / handle
            if not path.is_mount():  # also when its attachment died: the mount is dead
                raise VolumeNotAttached(
                    f'AttachVolume: volume "{volume_name}" is not attached to this node yet'
                )
            return path
        kind = next((k for k in VOLUME_SOURCES if k in spec), "this kind of")
        raise ConfigError(f"{kind} persistent volumes are not supported by ku7s")

    async def _payload(
        self, pod: Object, kind: str, source: Object
    ) -> atomic_writer.Payload | None:
        mode = int(source.get("defaultMode", 0o644))
        namespace = pod["metadata"].get("namespace", "")
        if kind == "configMap":
            return await self._keyed("configmaps", namespace, source.get("name", ""), source, mode)
        if kind == "secret":
            return await self._keyed(
                "secrets", namespace, source.get("secretName", ""), source, mode
            )
        if kind == "downwardAPI":
            return self._downward(pod, source.get("items") or [], mode)
        payload: atomic_writer.Payload = {}
        for projection in source.get("sources") or []:
            part: atomic_writer.Payload | None = None
            if "configMap" in projection:
                ref = projection["configMap"]
                part = await self._keyed("configmaps", namespace, ref.get("name", ""), ref, mode)
            elif "secret" in projection:
                ref = projection["secret"]
                part = await self._keyed("secrets", namespace, ref.get("name", ""), ref, mode)
            elif "downwardAPI" in projection:
                part = self._downward(pod, projection["downwardAPI"].get("items") or [], mode)
            elif "serviceAccountToken" in projection:
                part = await self._token(pod, projection["serviceAccountToken"] or {}, mode)
            payload.update(part or {})
        return payload

    async def _token(self, pod: Object, source: Object, mode: int) -> atomic_writer.Payload:
        if self._tokens is None:
            raise ConfigError("this kubelet cannot request service account tokens")
        seconds = int(source.get("expirationSeconds") or 3600)
        token = await self._tokens.token(pod, str(source.get("audience") or ""), seconds)
        return {str(source.get("path") or "token"): (token.encode(), mode)}

    async def _keyed(
        self, resource: str, namespace: str, name: str, source: Object, mode: int
    ) -> atomic_writer.Payload | None:
        found = await self._objects.get(resource, namespace, name)
        singular = "configmap" if resource == "configmaps" else "secret"
        if found is None:
            if source.get("optional"):
                return None
            raise ConfigError(f'{singular} "{name}" not found')
        data: dict[str, bytes] = {}
        if resource == "secrets":
            data = {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
        else:
            data = {k: str(v).encode() for k, v in (found.get("data") or {}).items()}
            data.update(
                {k: base64.b64decode(v) for k, v in (found.get("binaryData") or {}).items()}
            )
        items = source.get("items")
        if not items:
            return {key: (value, mode) for key, value in data.items()}
        payload: atomic_writer.Payload = {}
        for item in items:
            key = item.get("key", "")
            if key not in data:
                if source.get("optional"):
                    continue
                raise ConfigError(f"configmap references non-existent config key: {key}")
            payload[item.get("path") or key] = (data[key], int(item.get("mode", mode)))
        return payload

    def _downward(self, pod: Object, items: list[Object], mode: int) -> atomic_writer.Payload:
        payload: atomic_writer.Payload = {}
        for item in items:
            if "fieldRef" in item:
                value = field_value(pod, item["fieldRef"].get("fieldPath", ""))
            else:
                ref = item.get("resourceFieldRef") or {}
                value = resource_value(
                    pod,
                    ref.get("containerName", ""),
                    ref.get("resource", ""),
                    ref.get("divisor"),
                    self._allocatable,
                )
            payload[item.get("path", "")] = (value.encode(), int(item.get("mode", mode)))
        return payload

    async def tear_down(self, pod_uid: str) -> None:
        if self._tokens is not None:
            self._tokens.forget(pod_uid)
        directory = self.pod_dir(pod_uid)
        empty_dirs = directory / "volumes" / _PLUGIN_DIRS["emptyDir"]
        if empty_dirs.is_dir():
            for mounted in empty_dirs.iterdir():
                if mounted.is_mount():
                    await _run("umount", str(mounted))
        shutil.rmtree(directory, ignore_errors=True)


async def _empty_dir(directory: Path, source: Object) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True)
    directory.chmod(0o777)
    if source.get("medium") == "Memory":
        options = "mode=0777"
        if source.get("sizeLimit"):
            options += f",size={int(parse_quantity(source['sizeLimit']))}"
        await _run("mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory))


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise VolumeError(f"{' '.join(command)} failed: {output.decode().strip()}")


_HOST_PATH_CHECKS = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def _host_path(source: Object) -> Path:
    path = Path(source.get("path", ""))
    kind = source.get("type") or ""
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o644, exist_ok=True)
    elif kind in _HOST_PATH_CHECKS:
        check, what = _HOST_PATH_CHECKS[kind]
        try:
            mode = path.stat().st_mode
        except FileNotFoundError as e:
            raise VolumeError(f"hostPath type check failed: {path} is not {what}") from e
        if not check(mode):
            raise VolumeError(f"hostPath type check failed: {path} is not {what}")
    return path
