"""The pytest plugin (entry point ``pytest11``): a cluster for the session and faults that
never outlive a test.

    def test_survives_a_partition(ku7s_cluster, chaos):
        with chaos.partition(ku7s_cluster.workers[0], target="control-plane"):
            ...

``--ku7s-workers N`` sizes the cluster; ``--ku7s-reuse`` takes the cluster of that name if it
exists and keeps it afterwards (``--ku7s-name``), so a debugging loop does not wait for a new
one each time. Only pytest is imported until a fixture is used. The cluster is deleted when
the session ends, also when it was interrupted (Ctrl-C, or SIGTERM from a CI runner).
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ku7s", "ku7s clusters")
    group.addoption("--ku7s-workers", type=int, default=2, help="workers of the session's cluster")
    group.addoption("--ku7s-name", default="", help="the cluster's name (default: a fresh one)")
    group.addoption(
        "--ku7s-reuse",
        action="store_true",
        help="use the cluster of --ku7s-name if it exists, and keep it afterwards",
    )


@pytest.fixture(scope="session")
def ku7s_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from ku7s.session import ClusterSession

    reuse = bool(request.config.getoption("--ku7s-reuse"))
    name = request.config.getoption("--ku7s-name") or (
        "pytest-ku7s" if reuse else f"pytest-{secrets.token_hex(3)}"
    )
    kubeconfig = tmp_path_factory.mktemp("ku7s") / "kubeconfig"
    with _terminate_as_interrupt():
        session = ClusterSession.up(
            name, int(request.config.getoption("--ku7s-workers")), kubeconfig, reuse=reuse
        )
        try:
            yield session
        finally:
            session.close()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While the cluster exists, SIGTERM (what a CI runner sends on a timeout or a cancel)
    ends the run as Ctrl-C does: pytest stops and tears down, so the cluster is deleted.
    A handler the program set itself is left alone."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(
        signal.SIGTERM
    ) not in (signal.SIG_DFL, None):
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def chaos(ku7s_cluster: Any) -> Iterator[Any]:
    """The session cluster's faults; whatever a test injected is reverted when it ends,
    also when it fails."""
    api = ku7s_cluster.chaos
    try:
        yield api
    finally:
        api.revert_all()
