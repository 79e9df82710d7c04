"""Generates the gRPC stubs from proto/ into ku7s/rpc/ whenever the package is built.

Everything else about the distribution lives in pyproject.toml; this file exists only for
the build hook, which also runs for editable installs.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


def generate_stubs() -> None:
    """Run protoc with a virtual include path so the stubs import each other as ku7s.rpc.*."""
    from grpc_tools import protoc  # build-time dependency only

    protos = sorted((ROOT / "proto").glob("*.proto"))
    include = protoc._get_resource_file_name("grpc_tools", "_proto")  # well-known types
    args = [
        "protoc",
        f"-Iku7s/rpc={ROOT / 'proto'}",
        f"-I{include}",
        f"--python_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        f"--pyi_out={ROOT}",
        *[f"ku7s/rpc/{p.name}" for p in protos],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on " + ", ".join(p.name for p in protos))


class BuildPyWithStubs(build_py):
    def run(self) -> None:
        generate_stubs()
        super().run()


setup(cmdclass={"build_py": BuildPyWithStubs})
