"""Preloading the images shipped in the node image (pause, busybox) into containerd.

No registry can be reached, so the images travel as tarballs inside the node image and are
imported into containerd's ``k8s.io`` namespace, the one its CRI plugin serves, on first
boot. containerd's state lives on a volume, so later boots find them already there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("kubelet.images")


@dataclass(frozen=True)
class ImageArchive:
    path: Path
    tags: tuple[str, ...]


def shipped_archives(directory: Path) -> list[ImageArchive]:
    """Archives listed in <directory>/index.json as {"file.tar": ["tag", ...]}."""
    index = directory / "index.json"
    if not index.exists():
        return []
    listing: dict[str, list[str]] = json.loads(index.read_text())
    return [ImageArchive(directory / name, tuple(tags)) for name, tags in listing.items()]


class ImagePreloader:
    def __init__(self, directory: Path, containerd_address: str) -> None:
        self._directory = directory
        self._address = containerd_address

    async def preload(self, present: set[str]) -> list[str]:
        """Import every shipped archive some of whose tags are missing; return those tags."""
        missing = [a for a in shipped_archives(self._directory) if not set(a.tags) <= present]
        await asyncio.gather(*(self._import(a) for a in missing))
        return [t for a in missing for t in a.tags]

    async def _import(self, archive: ImageArchive) -> None:
        process = await asyncio.create_subprocess_exec(
            "ctr",
            "--address",
            self._address,
            "--namespace",
            "k8s.io",
            "images",
            "import",
            str(archive.path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"ctr import {archive.path.name} failed: {output.decode()}")
        log.info("imported %s", ", ".join(archive.tags))
