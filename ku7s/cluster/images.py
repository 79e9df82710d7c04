"""Building ku7s's images offline: base, pause, busybox and the node image.

No registry can be reached, so every image comes from Debian packages or from this tree:

- base:    ``debootstrap --variant=minbase`` with node_image/base-packages.txt, then
           ``docker import``; tagged by a hash of the package list, so it is rebuilt only
           when that list changes.
- pause:   node_image/pause/pause.c compiled statically, alone in a scratch image.
- busybox: Debian trixie's busybox-static (see stand_ins.py), tagged
           docker.io/library/busybox.
- node:    Dockerfile.node on top of base, with the Python dependencies as wheels built on
           the host, pause and busybox as tarballs to preload, and the project's packages.
           Labelled with a hash of everything that went in, so an unchanged tree is not
           rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from ku7s.cluster.debian_packages import DebianFiles
from ku7s.cluster.progress import Say
from ku7s.cluster.stand_ins import BUSYBOX, STAND_INS, StandIn
from ku7s.errors import ImageBuildError

DEFAULT_NODE_IMAGE = "ku7s/node:latest"
PAUSE_IMAGE = "ku7s.dev/pause:1"
BUSYBOX_IMAGE = BUSYBOX.tags[0]
#: Shipped in the node image and imported into every node's containerd at first boot.
PRELOADED = [PAUSE_IMAGE, *(tag for s in STAND_INS if s.preloaded for tag in s.tags)]
SOURCE_HASH_LABEL = "io.ku7s.source-hash"
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_PACKAGES_DIRS = ("ku7s", "control_plane", "node_image")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
#: ku7s' host side, which the node image leaves out: nothing in a node imports it (an
#: import-linter contract says so), and editing it does not rebuild the image.
HOST_SIDE = frozenset({"cli", "cluster", "chaos", "session.py", "pytest_plugin.py",
                       "kubeconfig.py", "__main__.py"})  # fmt: skip


@dataclass(frozen=True)
class BuildResult:
    image: str
    built: bool
    seconds: float


def project_root() -> Path:
    """The source tree this ku7s runs from; building images needs it."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "Dockerfile.node").exists():
        raise ImageBuildError(
            f"building images needs the ku7s source tree (Dockerfile.node not found in {root}); "
            "install ku7s from a checkout with `pip install -e .`"
        )
    return root


def _run(argv: list[str], what: str, **kwargs: object) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    except FileNotFoundError:
        raise ImageBuildError(f"{what}: {argv[0]} is not installed") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        last = output.splitlines()[-1] if output else f"exit status {result.returncode}"
        raise ImageBuildError(f"{what} failed: {last}", output)
    return str(result.stdout)


def _pip_wheel(directory: Path, args: list[str], what: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--wheel-dir", str(directory), *args], what)


def _hash_tree(digest: hashlib._Hash, root: Path, paths: list[Path]) -> None:
    for path in sorted(paths):
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and "__pycache__" not in p.parts
                and p.suffix != ".pyc"
                and not any(part.endswith(".egg-info") for part in p.parts)
            )
        else:
            files = [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")


class ImageBuilder:
    def __init__(
        self,
        client: docker.DockerClient,
        *,
        root: Path | None = None,
        cache_dir: Path | None = None,
        mirror: str | None = None,
        say: Say = lambda _: None,
    ) -> None:
        self._client = client
        self._root = root or project_root()
        self._cache = (
            cache_dir
            or Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "ku7s"
        )
        self._mirror = mirror or os.environ.get("KU7S_DEBIAN_MIRROR", DEFAULT_MIRROR)
        self._debian_files = DebianFiles(self._mirror, self._cache)
        self._say = say

    # -- helpers -------------------------------------------------------------------------

    def _image_label(self, tag: str, label: str) -> str | None:
        try:
            image = self._client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None
        return str((image.labels or {}).get(label, ""))

    def _exists(self, tag: str) -> bool:
        try:
            self._client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _docker_build(
        self,
        context: Path,
        tag: str,
        dockerfile: str = "Dockerfile",
        buildargs: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        try:
            self._client.images.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                buildargs=buildargs or {},
                labels=labels or {},
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as e:
            log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in e.build_log)
            raise ImageBuildError(f"docker build of {tag} failed: {e.msg}", log) from None
        except docker.errors.APIError as e:
            raise ImageBuildError(f"docker build of {tag} failed: {e.explanation}") from None

    # -- base ----------------------------------------------------------------------------

    def packages(self) -> list[str]:
        text = (self._root / "node_image" / "base-packages.txt").read_text()
        return sorted(
            line.split("#", 1)[0].strip()
            for line in text.splitlines()
            if line.split("#", 1)[0].strip()
        )

    def base_tag(self) -> str:
        return self._debian_tag("ku7s/base", self.packages())

    @staticmethod
    def _debian_tag(repository: str, packages: list[str]) -> str:
        key = json.dumps(
            {"suite": DEBIAN_SUITE, "variant": "minbase", "packages": sorted(packages)}
        ).encode()
        return f"{repository}:{hashlib.sha256(key).hexdigest()[:12]}"

    def ensure_base(self) -> BuildResult:
        return self.ensure_debian("ku7s/base", self.packages())

    def ensure_debian(self, repository: str, packages: list[str]) -> BuildResult:
        """A Debian minbase image with these packages, tagged by their list (so it is built
        once): the nodes' base, or a plain machine for the SSH provider's tests."""
        tag = self._debian_tag(repository, packages)
        if self._exists(tag):
            return BuildResult(tag, False, 0.0)
        if os.geteuid() != 0:
            raise ImageBuildError("building a Debian image runs debootstrap, which needs root")
        started = time.monotonic()
        self._say(f"debootstrap {DEBIAN_SUITE} from {self._mirror} (about a minute)")
        with tempfile.TemporaryDirectory(prefix="ku7s-debian-", dir="/var/tmp") as tmp:
            rootfs = Path(tmp) / "rootfs"
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(sorted(packages))}",
                    DEBIAN_SUITE,
                    str(rootfs),
                    self._mirror,
                ],
                "debootstrap",
            )
            for junk in (
                "var/cache/apt/archives",
                "var/lib/apt/lists",
                "usr/share/doc",
                "usr/share/man",
                "usr/share/info",
            ):
                shutil.rmtree(rootfs / junk, ignore_errors=True)
            (rootfs / "etc" / "machine-id").write_text("")
            archive = Path(tmp) / "rootfs.tar"
            _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."], "tar")
            repository, _, version = tag.partition(":")
            try:
                self._client.api.import_image_from_file(
                    str(archive),
                    repository=repository,
                    tag=version,
                    changes=[
                        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "ENV LANG=C.UTF-8",
                        'CMD ["/bin/bash"]',
                    ],
                )
            except docker.errors.APIError as e:
                raise ImageBuildError(f"docker import failed: {e.explanation}") from None
        return BuildResult(tag, True, time.monotonic() - started)

    # -- pause and busybox ---------------------------------------------------------------

    def ensure_pause(self) -> BuildResult:
        source = self._root / "node_image" / "pause" / "pause.c"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        if self._image_label(PAUSE_IMAGE, SOURCE_HASH_LABEL) == digest:
            return BuildResult(PAUSE_IMAGE, False, 0.0)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ku7s-pause-") as tmp:
            context = Path(tmp)
            _run(
                ["gcc", "-static", "-Os", "-s", "-o", str(context / "pause"), str(source)],
                "compiling pause (needs gcc and libc6-dev)",
            )
            (context / "Dockerfile").write_text(
                'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n'
            )
            self._docker_build(context, PAUSE_IMAGE, labels={SOURCE_HASH_LABEL: digest})
        return BuildResult(PAUSE_IMAGE, True, time.monotonic() - started)

    def ensure_stand_in(self, stand_in: StandIn, base: str | None = None) -> BuildResult:
        """Build one of the stand-in images (busybox first: the others start from it),
        unless an image from the same recipe and base is there."""
        base = base or self.ensure_base().image
        args = {"BASE_IMAGE": base}
        if stand_in is not BUSYBOX:
            args["BUSYBOX_IMAGE"] = self.ensure_stand_in(BUSYBOX, base).image
        files = {name: vars(wanted) for name, wanted in stand_in.debian_files}
        digest = hashlib.sha256(
            json.dumps({"recipe": stand_in.recipe, "args": args, "files": files}).encode()
        ).hexdigest()[:16]
        canonical = stand_in.tags[0]
        if all(self._image_label(t, SOURCE_HASH_LABEL) == digest for t in stand_in.tags):
            return BuildResult(canonical, False, 0.0)
        started = time.monotonic()
        self._say(f"building the {stand_in.name} image from Debian packages")
        with tempfile.TemporaryDirectory(prefix=f"ku7s-{stand_in.name}-") as tmp:
            (Path(tmp) / "Dockerfile").write_text(stand_in.recipe)
            for name, wanted in stand_in.debian_files:
                self._debian_files.extract(wanted, Path(tmp) / name)
            self._docker_build(
                Path(tmp), canonical, buildargs=args, labels={SOURCE_HASH_LABEL: digest}
            )
        image = self._client.images.get(canonical)
        for tag in stand_in.tags[1:]:
            repository, _, version = tag.rpartition(":")
            image.tag(repository, version)
        return BuildResult(canonical, True, time.monotonic() - started)

    # -- node ----------------------------------------------------------------------------

    def _wheels(self) -> Path:
        requirements = self._root / "node_image" / "requirements.txt"
        key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
        wheels = self._cache / f"wheels-{key}"
        if (wheels / ".complete").exists():
            return wheels
        self._say("building Python wheels for the node image")
        _pip_wheel(wheels, ["-r", str(requirements)], "pip wheel")
        (wheels / ".complete").write_text("")
        return wheels

    def node_wheels(self) -> Path:
        """The node agent's Python dependencies as wheels for this Python (cached)."""
        return self._wheels()

    def agent_wheel(self) -> Path:
        """ku7s itself as a wheel (its stubs included), for machines joined over SSH;
        built once per source tree."""
        self._check_stubs()
        digest = hashlib.sha256()
        _hash_tree(digest, self._root, [self._root / d for d in _PACKAGES_DIRS])
        directory = self._cache / f"agent-{digest.hexdigest()[:12]}"
        found = sorted(directory.glob("ku7s-*.whl"))
        if found:
            return found[0]
        self._say("building the node agent's wheel")
        _pip_wheel(
            directory,
            ["--no-deps", "--no-build-isolation", str(self._root)],
            "pip wheel (the node agent)",
        )
        return sorted(directory.glob("ku7s-*.whl"))[0]

    def save_preloaded(self, directory: Path) -> None:
        """The images every node has at first boot, as the node image ships them."""
        self.ensure_pause()
        base = self.ensure_base().image
        for stand_in in STAND_INS:
            if stand_in.preloaded:
                self.ensure_stand_in(stand_in, base)
        self._save_images(directory)

    @staticmethod
    def _save_images(directory: Path) -> None:
        # One archive for all images: one `ctr import` per node at first boot.
        # (The SDK saves one image per archive; the docker CLI saves several.)
        directory.mkdir(parents=True, exist_ok=True)
        _run(["docker", "save", "-o", str(directory / "images.tar"), *PRELOADED], "docker save")
        index = {"images.tar": PRELOADED}
        (directory / "index.json").write_text(json.dumps(index, indent=2) + "\n")

    def node_source_hash(self, base: str) -> str:
        digest = hashlib.sha256()
        digest.update(f"{base}\0".encode())
        for image in PRELOADED:
            digest.update(str(self._client.images.get(image).id).encode() + b"\0")
        _hash_tree(digest, self._root, [self._root / "Dockerfile.node", *self._node_sources()])
        return digest.hexdigest()[:16]

    def _node_sources(self) -> list[Path]:
        """What of the source tree the node image holds: ku7s' shared library, the control
        plane and the node's programs."""
        shared = [p for p in (self._root / "ku7s").iterdir() if p.name not in HOST_SIDE]
        return [*shared, *(self._root / d for d in _PACKAGES_DIRS if d != "ku7s")]

    def _check_stubs(self) -> None:
        if not (self._root / "ku7s" / "rpc" / "node_pb2.py").exists():
            raise ImageBuildError(
                "the gRPC stubs are missing from ku7s/rpc/; run `pip install -e .` to generate them"
            )

    def is_current(self, tag: str = DEFAULT_NODE_IMAGE) -> bool:
        """Whether tag was built from exactly this tree and these base images."""
        base, tree = self.base_tag(), self._image_label(tag, SOURCE_HASH_LABEL)
        if not tree or not all(self._exists(t) for t in (base, *PRELOADED)):
            return False
        return tree == self.node_source_hash(base)

    def ensure_node(self, tag: str = DEFAULT_NODE_IMAGE, *, force: bool = False) -> BuildResult:
        """Build everything the node image needs, skipping what is up to date."""
        started = time.monotonic()
        self._check_stubs()
        base = self.ensure_base()
        self.ensure_pause()
        for stand_in in STAND_INS:
            if stand_in.preloaded:
                self.ensure_stand_in(stand_in, base.image)
        source_hash = self.node_source_hash(base.image)
        if not force and self._image_label(tag, SOURCE_HASH_LABEL) == source_hash:
            return BuildResult(tag, False, time.monotonic() - started)
        wheels = self._wheels()
        with tempfile.TemporaryDirectory(prefix="ku7s-node-") as tmp:
            context = Path(tmp)
            shutil.copy(self._root / "Dockerfile.node", context / "Dockerfile.node")
            for source in self._node_sources():
                target = context / source.relative_to(self._root)
                if source.is_dir():
                    shutil.copytree(source, target, ignore=_SKIP)
                elif not _SKIP(str(source.parent), [source.name]):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(source, target)
            shutil.copytree(wheels, context / "wheels", ignore=shutil.ignore_patterns(".complete"))
            self._save_images(context / "images")
            self._say(f"docker build {tag}")
            self._docker_build(
                context,
                tag,
                dockerfile="Dockerfile.node",
                buildargs={"BASE_IMAGE": base.image},
                labels={SOURCE_HASH_LABEL: source_hash},
            )
        return BuildResult(tag, True, time.monotonic() - started)
