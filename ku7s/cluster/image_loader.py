"""`ku7s load image`: images from the host's Docker into the containerd of every worker
node, as `kind load docker-image` does, in parallel, skipping nodes that already have them.

An image that is not in the host's Docker but is one of ku7s's stand-ins (nginx, python,
busybox) is built first. Each imported image is labelled in containerd with the Docker
image ID it came from, which is how a node that has it already is recognised.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from ku7s.cluster.images import ImageBuilder
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.ssh import SSHError, SSHHost
from ku7s.cluster.stand_ins import normalize, stand_in_for
from ku7s.errors import Ku7sError, NotFoundError, UserInputError
from ku7s.names import WORKER

IMAGE_ID_LABEL = "ku7s-image-id"


class ImageLoadError(Ku7sError):
    """containerd on a node refused an image."""


@dataclass(frozen=True)
class HostImage:
    reference: str
    image_id: str
    #: The Docker tag the archive carries, and every name it gets in containerd.
    docker_tag: str
    tags: tuple[str, ...]

    @property
    def primary(self) -> str:
        return normalize(self.docker_tag)


@dataclass(frozen=True)
class NodeLoad:
    node: str
    image: str
    loaded: bool  # False: the node had it already


#: Runs `ctr -n k8s.io ARGS` in one node (with a file as its input) and returns its output.
Ctr = Callable[[tuple[str, ...], Path | None], str]
#: How many ctr commands run at once.
PARALLEL = 8


def _ctr_argv(node: str, args: tuple[str, ...], stdin: Path | None) -> list[str]:
    return ["docker", "exec", *(["-i"] if stdin else []), node, "ctr", "-n", "k8s.io", *args]


def _failed(node: str, args: tuple[str, ...], output: str) -> ImageLoadError:
    message = output.strip().splitlines()
    return ImageLoadError(
        f"{node}: ctr {' '.join(args[:2])} failed: {message[-1] if message else ''}"
    )


def local_ctr(node: str) -> Ctr:
    """ctr in a node container of this machine's engine."""

    def run(args: tuple[str, ...], stdin: Path | None) -> str:
        with open(stdin, "rb") if stdin else open("/dev/null", "rb") as source:
            result = subprocess.run(
                _ctr_argv(node, args, stdin), stdin=source, capture_output=True, text=True
            )
        if result.returncode != 0:
            raise _failed(node, args, result.stderr or result.stdout)
        return result.stdout

    return run


def ctr_over_ssh(host: SSHHost, node: str) -> Ctr:
    """ctr in a node container of another Docker host, through its SSH connection."""

    def run(args: tuple[str, ...], stdin: Path | None) -> str:
        command = shlex.join(_ctr_argv(node, args, stdin))
        try:
            if stdin is None:
                return host.run(command).stdout
            with stdin.open("rb") as source:
                return host.run(command, stdin=iter(lambda: source.read(1 << 20), b"")).stdout
        except SSHError as e:
            raise _failed(node, args, str(e)) from None

    return run


class ImageLoader:
    def __init__(
        self,
        provider: DockerProvider,
        builder: ImageBuilder | None = None,
        say: Say = lambda _: None,
    ) -> None:
        self._provider = provider
        self._builder = builder
        self._say = say

    def resolve(self, reference: str) -> HostImage:
        client = self._provider.client
        try:
            image = client.images.get(reference)
        except docker.errors.ImageNotFound:
            stand_in = stand_in_for(reference)
            if stand_in is None:
                raise UserInputError(
                    f'image "{reference}" is not in the host\'s Docker: build or pull it first'
                ) from None
            builder = self._builder or ImageBuilder(client, say=self._say)
            image = client.images.get(builder.ensure_stand_in(stand_in).image)
        wanted = normalize(reference)
        docker_tag = next((t for t in image.tags if normalize(t) == wanted), None)
        if docker_tag is None:
            if not image.tags:
                raise UserInputError(f'image "{reference}" has no tag to load it by')
            docker_tag = image.tags[0]
        tags = tuple(sorted({normalize(t) for t in image.tags} | {wanted}))
        return HostImage(reference, str(image.id), docker_tag, tags)

    def _present(self, ctr: Ctr, image: HostImage) -> bool:
        listing = ctr(("images", "ls"), None)
        for line in listing.splitlines()[1:]:
            fields = line.split()
            labelled = f"{IMAGE_ID_LABEL}={image.image_id}" in line
            if fields and fields[0] == image.primary and labelled:
                return True
        return False

    def load(
        self,
        cluster: str,
        references: list[str],
        nodes: list[str] | None = None,
        elsewhere: dict[str, Ctr] | None = None,
    ) -> list[NodeLoad]:
        """Load into the running workers of this engine and the nodes elsewhere (node name ->
        its ctr: those on other Docker hosts)."""
        ctrs = {
            n.name: local_ctr(n.name)
            for n in self._provider.list_nodes(cluster)
            if n.role == WORKER and n.status == "running"
        }
        ctrs.update(elsewhere or {})
        workers = sorted(ctrs)
        if not self._provider.list_nodes(cluster):
            raise NotFoundError(f'no cluster named "{cluster}"')
        if nodes:
            unknown = sorted(set(nodes) - set(workers))
            if unknown:
                raise UserInputError(
                    f"not a running worker of cluster {cluster}: {', '.join(unknown)}"
                )
            workers = [n for n in workers if n in nodes]
        images = [self.resolve(r) for r in references]
        pairs = [(n, i) for n in workers for i in images]
        with ThreadPoolExecutor(max_workers=max(1, min(len(pairs), PARALLEL))) as pool:
            present = list(pool.map(lambda pair: self._present(ctrs[pair[0]], pair[1]), pairs))
        missing = [pair for pair, there in zip(pairs, present, strict=True) if not there]
        results = [
            NodeLoad(n, i.reference, False)
            for (n, i), there in zip(pairs, present, strict=True)
            if there
        ]
        if not missing:
            return results
        with tempfile.TemporaryDirectory(prefix="ku7s-load-") as tmp:
            archives = {}
            for image in {i.image_id: i for _, i in missing}.values():
                archive = Path(tmp) / f"{image.image_id.replace(':', '_')}.tar"
                self._say(f"saving {image.reference}")
                saved = self._provider.client.images.get(image.image_id).save(
                    named=image.docker_tag
                )
                with archive.open("wb") as out:
                    for chunk in saved:
                        out.write(chunk)
                archives[image.image_id] = archive

            def one(node: str, image: HostImage) -> NodeLoad:
                ctr = ctrs[node]
                ctr(("images", "import", "-"), archives[image.image_id])
                for tag in image.tags:
                    if tag != image.primary:
                        ctr(("images", "tag", "--force", image.primary, tag), None)
                    ctr(("images", "label", tag, f"{IMAGE_ID_LABEL}={image.image_id}"), None)
                return NodeLoad(node, image.reference, True)

            with ThreadPoolExecutor(max_workers=min(len(missing), PARALLEL)) as pool:
                results += list(pool.map(lambda pair: one(*pair), missing))
        return results
