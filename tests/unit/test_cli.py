"""The CLI's contract without Docker: one ERROR line and the right exit status."""

from __future__ import annotations

import io

from rich.console import Console

from ku7s.cli.context import CLIContext
from ku7s.cli.main import main
from ku7s.errors import DockerUnavailableError


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def no_docker():
        raise DockerUnavailableError("cannot reach the Docker engine at unix:///nowhere")

    context = CLIContext(
        out=Console(file=out, soft_wrap=True),
        err=Console(file=err, soft_wrap=True),
        connect=no_docker,
    )
    code = main(list(argv), context)
    return code, out.getvalue(), err.getvalue()


def test_usage_errors_exit_2_with_one_line():
    code, _, err = run("create", "cluster", "--workers", "many")
    assert code == 2
    assert err.startswith("ERROR:") and err.count("\n") == 1
    assert "many" in err


def test_bad_names_are_refused_before_docker_is_needed():
    code, _, err = run("create", "cluster", "--name", "Bad_Name")
    assert code == 1
    assert err.startswith("ERROR: invalid cluster name 'Bad_Name'")


def test_bad_config_is_refused_before_docker_is_needed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: Cluster\napiVersion: ku7s.dev/v1alpha1\nnodes: [{role: boss}]\n")
    code, _, err = run("create", "cluster", "--config", str(path))
    assert code == 1 and "nodes[0].role" in err


def test_workers_and_config_nodes_do_not_mix(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "kind: Cluster\napiVersion: ku7s.dev/v1alpha1\nnodes: [{role: control-plane}]\n"
    )
    code, _, err = run("create", "cluster", "--config", str(path), "--workers", "2")
    assert code == 1 and "either --workers or nodes" in err


def test_docker_errors_are_one_line():
    code, _, err = run("get", "clusters")
    assert (code, err) == (1, "ERROR: cannot reach the Docker engine at unix:///nowhere\n")


def test_help_needs_no_docker(capsys):
    code, _, _ = run("--help")
    assert code == 0 and "create" in capsys.readouterr().out


class FakeProvider:
    """Just enough of DockerProvider for delete: clusters by label, and what was removed."""

    def __init__(self, clusters: dict[str, list[str]]) -> None:
        from ku7s.cluster.providers.node_spec import NodeContainer

        self._nodes = {
            cluster: [NodeContainer(n, cluster, "worker", "running") for n in nodes]
            for cluster, nodes in clusters.items()
        }
        self.removed: list[str] = []
        self.cleaned: list[str] = []

    def list_clusters(self) -> list[str]:
        return sorted(c for c, nodes in self._nodes.items() if nodes)

    def list_nodes(self, cluster: str):
        return self._nodes.get(cluster, [])

    def container_exists(self, name: str) -> bool:
        return False  # no control plane to ask for nodes on other Docker hosts

    def remove_cluster(self, cluster: str, network: str):
        from ku7s.cluster.providers.docker_sweep import SweepResult

        names = [n.name for n in self._nodes.pop(cluster, [])]
        self.removed += names
        self.cleaned.append(network)
        return SweepResult(containers=names, networks=[network])


def test_delete_all_removes_every_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kc"))
    fake = FakeProvider({"a": ["a-control-plane", "a-worker"], "b": ["b-control-plane"]})
    err = io.StringIO()
    context = CLIContext(
        out=Console(file=io.StringIO()), err=Console(file=err), connect=lambda: fake
    )
    assert main(["delete", "cluster", "--all"], context) == 0
    assert sorted(fake.removed) == ["a-control-plane", "a-worker", "b-control-plane"]
    assert sorted(fake.cleaned) == ["ku7s-a", "ku7s-b"]
    assert 'Deleting cluster "a"' in err.getvalue() and 'Deleting cluster "b"' in err.getvalue()


def run_with(connect, *argv: str) -> tuple[int, str]:
    err = io.StringIO()
    context = CLIContext(
        out=Console(file=io.StringIO()), err=Console(file=err, width=400), connect=connect
    )
    return main(list(argv), context), err.getvalue()


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_traceback():
    import docker.errors

    def refused():
        raise docker.errors.APIError(
            "403", explanation="error while removing network: network ku7s-x has active endpoints"
        )

    code, err = run_with(refused, "get", "clusters")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("ERROR: the Docker engine refused: error while removing network")
    assert "--verbose" in err

    def broken():
        raise FileNotFoundError(2, "No such file or directory", "/nowhere/.kube/config.lock")

    code, err = run_with(broken, "get", "clusters")
    assert code == 1
    assert err == (
        "ERROR: No such file or directory: /nowhere/.kube/config.lock "
        "(run again with --verbose for the traceback)\n"
    )
    code, err = run_with(broken, "--verbose", "get", "clusters")
    assert code == 1 and "Traceback" in err and "FileNotFoundError" in err
    assert err.rstrip().endswith("ERROR: No such file or directory: /nowhere/.kube/config.lock")
