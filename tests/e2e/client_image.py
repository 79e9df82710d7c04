"""An image with the official Python client and kubectl, for pods that talk to the API as
apps and operators do: built once per run from the test environment's own packages (there
is no registry to pull from), loaded on a cluster's nodes on demand."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ku7s.cluster.image_loader import ImageLoader
from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import Cluster, kubectl_path, run_ku7s, unique

#: Prints the top-level entries of site-packages that importing the official client loads.
CLIENT_PACKAGES = """
import os, sys
import kubernetes.client, kubernetes.config, kubernetes.watch
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None) or ""
    if "site-packages" in path:
        print(path.split("site-packages" + os.sep, 1)[1].split(os.sep, 1)[0])
"""


@pytest.fixture(scope="session")
def client_image_tag(
    provider: DockerProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The python stand-in with the official client and kubectl, built here."""
    ImageLoader(provider).resolve("python:3")  # builds the stand-in when it is missing
    context = tmp_path_factory.mktemp("client-image")
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    listed = subprocess.run(
        [sys.executable, "-c", CLIENT_PACKAGES], check=True, capture_output=True, text=True
    ).stdout.split()
    (context / "site").mkdir()
    for name in sorted(set(listed)):
        source = site / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, context / "site" / name, ignore=ignore)
        elif not name.startswith("__editable__"):
            shutil.copy(source, context / "site" / name)
    shutil.copy(kubectl_path("1.33"), context / "kubectl")
    (context / "Dockerfile").write_text(
        "FROM python:3\nCOPY site /opt/client\nCOPY kubectl /usr/local/bin/kubectl\n"
        "ENV PYTHONPATH=/opt/client\n"
    )
    tag = f"ku7s-e2e/python-client:{unique('v')}"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(context)], check=True, capture_output=True
    )
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def load_client_image(cluster: Cluster, tag: str) -> str:
    loaded = run_ku7s("load", "image", tag, "--name", cluster.name, env=cluster.env)
    assert loaded.returncode == 0, loaded.stderr
    return tag


@pytest.fixture(scope="session")
def client_image(cluster: Cluster, client_image_tag: str) -> str:
    """The client image, loaded on the shared cluster's nodes."""
    return load_client_image(cluster, client_image_tag)
