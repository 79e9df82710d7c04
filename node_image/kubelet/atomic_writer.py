"""Files of a config map, secret or downward API volume, swapped in at once.

As upstream lays them out, so that a reader never sees half an update:

    <volume>/..2026_11_28_20_00_00.123456/<files>   the current payload
    <volume>/..data -> ..2026_11_28_20_00_00.123456
    <volume>/<top entry> -> ..data/<top entry>
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
from pathlib import Path

DATA_LINK = "..data"

Payload = dict[str, tuple[bytes, int]]  # relative path -> (content, mode)


def _current(volume: Path) -> Path | None:
    link = volume / DATA_LINK
    if not link.is_symlink():
        return None
    return volume / os.readlink(link)


def _same(directory: Path, payload: Payload) -> bool:
    present = {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}
    if present != set(payload):
        return False
    for relative, (content, mode) in payload.items():
        path = directory / relative
        if path.read_bytes() != content or (path.stat().st_mode & 0o7777) != mode:
            return False
    return True


def write(volume: Path, payload: Payload) -> bool:
    """Make the volume hold exactly payload; return whether anything changed."""
    for relative in payload:
        if relative.startswith("/") or ".." in Path(relative).parts:
            raise ValueError(f"invalid path {relative!r} in volume payload")
    volume.mkdir(parents=True, exist_ok=True)
    old = _current(volume)
    if old is not None and old.is_dir() and _same(old, payload):
        return False
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    fresh = volume / stamp
    fresh.mkdir()
    for relative, (content, mode) in payload.items():
        path = fresh / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    staging = volume / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    staging.symlink_to(stamp)
    staging.replace(volume / DATA_LINK)
    tops = {Path(relative).parts[0] for relative in payload}
    for top in tops:
        link = volume / top
        if not link.is_symlink():
            link.symlink_to(f"{DATA_LINK}/{top}")
    for entry in volume.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in tops and entry.is_symlink():
            entry.unlink()
    if old is not None and old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    return True
