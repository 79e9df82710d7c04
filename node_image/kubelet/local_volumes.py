"""Frees the disk of local-path volumes that no longer exist: the provisioner deletes the
PersistentVolume object (after its claim is gone and no pod uses it), and the kubelet of
the volume's node, which alone can reach the directory, removes it on its next sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

from ku7s.api.persistent_volumes import volume_name_of_directory
from node_image.kubelet.environment import ConfigError, ObjectSource

log = logging.getLogger("kubelet")

#: Seconds between sweeps (only directories are looked at; an empty root costs nothing).
SWEEP_INTERVAL = 5.0


class LocalVolumeSweeper:
    def __init__(self, root: Path, objects: ObjectSource, interval: float = SWEEP_INTERVAL) -> None:
        self._root = root
        self._objects = objects
        self._interval = interval

    async def sweep(self) -> list[str]:
        """Remove the directories whose volume is gone; their names."""
        if not self._root.is_dir():
            return []
        removed = []
        for directory in sorted(self._root.iterdir()):
            name = volume_name_of_directory(str(directory))
            if not name:
                continue  # not made by the provisioner: not ours to remove
            try:
                volume = await self._objects.get("persistentvolumes", "", name)
            except ConfigError:
                continue  # the control plane cannot say now; next sweep
            if volume is None:
                await asyncio.to_thread(shutil.rmtree, directory, True)
                log.info("removed the directory of deleted volume %s", name)
                removed.append(directory.name)
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except OSError as e:
                log.warning("sweeping local volumes failed: %s", e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
