"""Tar archives of files in memory: how files reach a container through Docker's archive
API (a node's certificates, a load balancer's configuration). Shared by the host side and
the mock cloud in the control plane."""

from __future__ import annotations

import io
import tarfile


def tar_files(files: dict[str, bytes]) -> bytes:
    """A tar of the files (path -> content), with their directories; keys and tokens
    are readable by their owner only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        directories: set[str] = set()
        for path, content in sorted(files.items()):
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(path.strip("/"))
            info.size = len(content)
            info.mode = 0o600 if path.endswith(".key") or "token" in path else 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
