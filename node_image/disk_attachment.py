"""A disk attachment: ``python -m node_image.disk_attachment SOURCE TARGET``, the main
process of the container the mock cloud runs to attach a disk (a Docker volume mounted at
SOURCE) to a node, sharing the node's process namespace.

It serves SOURCE through bindfs (FUSE) and moves that mount into the node's mount namespace
at TARGET with the kernel's detached-mount calls (open_tree, setns, move_mount; Linux 5.2),
since a running container gets no new mounts from Docker. The node's pods then reach the
disk only through this process: when it dies, their reads and writes fail (EIO), as when a
cloud disk goes away. It prints ``attached`` once the node sees the disk, and unmounts it
from the node when stopped."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
CLONE_NEWNS = 0x00020000
MNT_DETACH = 2
#: Where the FUSE view of the disk is mounted in this container before it moves.
STAGING = "/mnt/disk"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, call: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}: {os.strerror(errno)}")
    return result


def mount_points() -> set[str]:
    """The mount points of this process' mount namespace (also dead FUSE ones, which
    os.path.ismount cannot stat)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split()[4] for line in lines}


def serve(source: str) -> subprocess.Popen[bytes]:
    """bindfs mirroring source at STAGING, up once the mount is there."""
    Path(STAGING).mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(["bindfs", "-f", source, STAGING])
    deadline = time.monotonic() + 10
    while STAGING not in mount_points():
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"bindfs could not serve {source}")
        time.sleep(0.02)
    return server


def move_into_node(target: str) -> None:
    """Move the staged mount to target in the mount namespace of the node (process 1 of
    the shared process namespace); this process stays in the node's namespace after."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
    tree = _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, STAGING.encode(), flags), "open_tree")
    namespace = os.open("/proc/1/ns/mnt", os.O_RDONLY)
    _check(_libc.setns(namespace, CLONE_NEWNS), "setns")
    os.chdir("/")
    while target in mount_points():  # what an earlier attachment left (dead if it died)
        _check(_libc.umount2(target.encode(), MNT_DETACH), "umount")
    Path(target).mkdir(parents=True, exist_ok=True)
    where = target.encode()
    _check(
        _libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, where, MOVE_MOUNT_F_EMPTY_PATH),
        "move_mount",
    )


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    server = serve(source)
    try:
        move_into_node(target)
    except OSError as e:
        server.terminate()
        sys.exit(f"cannot attach the disk: {e}")
    print("attached", flush=True)

    def detach(*_: object) -> None:
        if target in mount_points():
            _libc.umount2(target.encode(), MNT_DETACH)
        server.terminate()

    signal.signal(signal.SIGTERM, detach)
    signal.signal(signal.SIGINT, detach)
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
