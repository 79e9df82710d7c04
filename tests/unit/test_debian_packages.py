"""A file from a package of another Debian release: found in the mirror's index, checked
against its SHA-256, and fetched once."""

from __future__ import annotations

import hashlib
import io
import lzma

import pytest

from ku7s.cluster.debian_packages import DebianFiles, package_entry
from ku7s.errors import ImageBuildError

DEB = b"!<arch>\nnot really a package"
INDEX = f"""Package: busybox
Version: 1:1.37.0-6
Filename: pool/main/b/busybox/busybox_1.37.0-6_amd64.deb
SHA256: {"0" * 64}

Package: busybox-static
Version: 1:1.37.0-6+b9
Description: a long description
 continued on a line starting with a space: Package: not-this-one
Filename: pool/main/b/busybox/busybox-static_1.37.0-6+b9_amd64.deb
SHA256: {hashlib.sha256(DEB).hexdigest()}
"""


class Mirror:
    def __init__(self, deb: bytes = DEB) -> None:
        self.asked: list[str] = []
        self._files = {
            "http://m/debian/dists/trixie/main/binary-amd64/Packages.xz": lzma.compress(
                INDEX.encode()
            ),
            "http://m/debian/pool/main/b/busybox/busybox-static_1.37.0-6+b9_amd64.deb": deb,
        }

    def __call__(self, url: str) -> io.BytesIO:
        self.asked.append(url)
        if url not in self._files:
            raise OSError(f"404 {url}")
        return io.BytesIO(self._files[url])


def test_the_entry_of_a_package_is_found_by_its_exact_name():
    entry = package_entry(INDEX, "busybox-static")
    assert entry["Filename"].endswith("busybox-static_1.37.0-6+b9_amd64.deb")
    with pytest.raises(ImageBuildError, match="package nope is not in the index"):
        package_entry(INDEX, "nope")


def test_a_package_is_fetched_checked_and_then_taken_from_the_cache(tmp_path):
    mirror = Mirror()
    files = DebianFiles("http://m/debian/", tmp_path, arch="amd64", opener=mirror)
    deb = files.package("trixie", "busybox-static")
    assert deb.read_bytes() == DEB and len(mirror.asked) == 2
    assert files.package("trixie", "busybox-static") == deb and len(mirror.asked) == 2


def test_a_package_that_does_not_match_its_index_is_refused(tmp_path):
    files = DebianFiles("http://m/debian", tmp_path, arch="amd64", opener=Mirror(b"tampered"))
    with pytest.raises(ImageBuildError, match="does not match its SHA-256"):
        files.package("trixie", "busybox-static")
    assert not list(tmp_path.rglob("*.deb"))


def test_an_unreachable_mirror_is_one_clear_error(tmp_path):
    files = DebianFiles("http://m/debian", tmp_path, arch="arm64", opener=Mirror())
    with pytest.raises(ImageBuildError, match=r"the trixie package index .* KU7S_DEBIAN_MIRROR"):
        files.package("trixie", "busybox-static")
