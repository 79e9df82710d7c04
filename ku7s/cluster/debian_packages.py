"""Single files out of Debian packages, for images that need a program from another Debian
release than the base's.

The package is found in the mirror's index of that release (its Packages file), downloaded,
checked against the index's SHA-256, and kept in the cache, so a rebuild needs no network.
Unpacking is dpkg-deb's.
"""

from __future__ import annotations

import hashlib
import lzma
import platform
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ku7s.errors import ImageBuildError

Opener = Callable[[str], IO[bytes]]

_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class DebianFile:
    """One file of one package of one Debian release (suite)."""

    suite: str
    package: str
    path: str  # inside the package, e.g. /bin/busybox


def architecture() -> str:
    """This machine's Debian architecture name (images run on the host's architecture)."""
    machine = platform.machine()
    return _ARCHITECTURES.get(machine, machine)


def package_entry(index: str, package: str) -> dict[str, str]:
    """A package's fields in a Packages index (the first entry of that name)."""
    for stanza in index.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package") == package:
            return fields
    raise ImageBuildError(f"package {package} is not in the index")


def _open(url: str) -> IO[bytes]:
    return urllib.request.urlopen(url, timeout=60)


class DebianFiles:
    def __init__(
        self, mirror: str, cache_dir: Path, arch: str | None = None, opener: Opener = _open
    ) -> None:
        self._mirror = mirror.rstrip("/")
        self._cache = cache_dir / "debs"
        self._arch = arch or architecture()
        self._open = opener

    def _download(self, url: str, what: str) -> bytes:
        try:
            with self._open(url) as response:
                return response.read()
        except (urllib.error.URLError, OSError) as e:
            raise ImageBuildError(
                f"downloading {what} from {url} failed ({e}); is the Debian mirror reachable? "
                "(set KU7S_DEBIAN_MIRROR to use another)"
            ) from None

    def package(self, suite: str, package: str) -> Path:
        """The package's .deb, from the cache or the mirror."""
        marker = self._cache / f"{suite}-{package}-{self._arch}.deb"
        if marker.exists():
            return marker
        index_url = f"{self._mirror}/dists/{suite}/main/binary-{self._arch}/Packages.xz"
        index = lzma.decompress(self._download(index_url, f"the {suite} package index"))
        entry = package_entry(index.decode(errors="replace"), package)
        deb = self._download(f"{self._mirror}/{entry['Filename']}", f"{package} ({suite})")
        if hashlib.sha256(deb).hexdigest() != entry.get("SHA256"):
            raise ImageBuildError(f"{entry['Filename']} does not match its SHA-256 in the index")
        self._cache.mkdir(parents=True, exist_ok=True)
        partial = marker.with_suffix(".partial")
        partial.write_bytes(deb)
        partial.replace(marker)
        return marker

    def extract(self, wanted: DebianFile, destination: Path) -> Path:
        """Copy the file out of its package to destination (a file path)."""
        deb = self.package(wanted.suite, wanted.package)
        with tempfile.TemporaryDirectory(prefix="ku7s-deb-") as tmp:
            try:
                subprocess.run(
                    ["dpkg-deb", "-x", str(deb), tmp], check=True, capture_output=True, text=True
                )
            except FileNotFoundError:
                raise ImageBuildError("unpacking a Debian package needs dpkg-deb") from None
            except subprocess.CalledProcessError as e:
                raise ImageBuildError(f"dpkg-deb -x {deb} failed: {e.stderr.strip()}") from None
            source = Path(tmp) / wanted.path.lstrip("/")
            if not source.is_file():
                raise ImageBuildError(f"{wanted.package} ({wanted.suite}) has no {wanted.path}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        return destination
