"""A cluster as a Python program holds it: made (or found) with the real ``ku7s`` command,
its kubeconfig in a file of its own, kubectl at hand, faults through ``.chaos``, and deleted
when done unless kept for reuse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ku7s.errors import Ku7sError
from ku7s.names import context_name

#: How long an interrupted ku7s command gets to undo what it started.
UNDO_SECONDS = 60


class ClusterSession:
    def __init__(self, name: str, kubeconfig: Path, *, keep: bool = False) -> None:
        self.name = name
        self.kubeconfig = kubeconfig
        self.keep = keep
        self._chaos: Any = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def _ku7s(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a ku7s command to its end. If this program is interrupted meanwhile, the
        command is interrupted too and given the time to undo what it started (a create
        removes what it made) before the interruption goes on."""
        with subprocess.Popen(
            [sys.executable, "-m", "ku7s", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            # A Ctrl-C in the terminal reaches only this program, which passes one on: a
            # second one would cut short the command's own clean-up.
            start_new_session=True,
        ) as process:
            try:
                out, err = process.communicate(timeout=600)
            except BaseException:
                process.send_signal(signal.SIGINT)
                try:
                    process.communicate(timeout=UNDO_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                raise
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    @classmethod
    def up(
        cls, name: str, workers: int, kubeconfig: Path, *, reuse: bool = False
    ) -> ClusterSession:
        """Create the cluster, or with reuse take the one of that name if it exists."""
        session = cls(name, kubeconfig, keep=reuse)
        if reuse and name in session._ku7s("get", "clusters").stdout.split():
            result = session._ku7s("export", "kubeconfig", "--name", name)
        else:
            try:
                result = session._ku7s(
                    "create", "cluster", "--name", name, "--workers", str(workers)
                )
            except BaseException:  # interrupted while creating: leave nothing behind
                session._ku7s("delete", "cluster", "--name", name)
                raise
        if result.returncode != 0:
            raise Ku7sError(f"cluster {name}: {result.stderr.strip()}")
        return session

    @property
    def workers(self) -> list[str]:
        out = self._ku7s("get", "nodes", "--name", self.name).stdout.split()
        return sorted(n for n in out if n.startswith(f"{self.name}-worker"))

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["kubectl", "--context", context_name(self.name), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise Ku7sError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result

    @property
    def chaos(self) -> Any:
        """The ChaosAPI of this cluster (made on first use)."""
        if self._chaos is None:
            from ku7s.chaos.api import ChaosAPI
            from ku7s.cluster.providers.docker import DockerProvider

            config = yaml.safe_load(self.kubeconfig.read_text())
            context = next(c for c in config["contexts"] if c["name"] == context_name(self.name))
            cluster = next(
                c for c in config["clusters"] if c["name"] == context["context"]["cluster"]
            )
            user = next(u for u in config["users"] if u["name"] == context["context"]["user"])
            single = {"clusters": [cluster], "users": [user]}
            self._chaos = ChaosAPI(DockerProvider.connect(), single, self.name)
        return self._chaos

    def close(self) -> None:
        """Revert every fault still in force; delete the cluster unless it is kept (also
        when reverting failed). A delete that fails is said, not swallowed."""
        try:
            if self._chaos is not None:
                self._chaos.close()
        finally:
            if not self.keep:
                result = self._ku7s("delete", "cluster", "--name", self.name)
                if result.returncode != 0:
                    raise Ku7sError(f"deleting cluster {self.name}: {result.stderr.strip()}")
