"""Merging a cluster's context into the user's kubeconfig leaves everything else alone."""

from __future__ import annotations

import yaml

from ku7s import kubeconfig


def entry(cluster, server="https://127.0.0.1:1"):
    return kubeconfig.render(cluster, server, b"ca", b"cert", b"key")


def test_default_path_follows_kubectl(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    env = {"KUBECONFIG": f"{first}:{second}", "HOME": str(tmp_path)}
    assert kubeconfig.default_path(env) == first
    second.write_text("")
    assert kubeconfig.default_path(env) == second
    assert kubeconfig.default_path({"HOME": str(tmp_path)}) == tmp_path / ".kube" / "config"


def test_merge_adds_and_replaces_only_its_entries(tmp_path):
    path = tmp_path / "config"
    other = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "other",
        "clusters": [{"name": "other", "cluster": {"server": "https://x"}}],
        "users": [{"name": "other", "user": {"token": "t"}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}],
    }
    path.write_text(yaml.safe_dump(other))
    kubeconfig.merge(path, entry("dev"))
    kubeconfig.merge(path, entry("dev", "https://127.0.0.1:2"))
    data = yaml.safe_load(path.read_text())
    assert data["current-context"] == "ku7s-dev"
    assert [c["name"] for c in data["clusters"]] == ["other", "ku7s-dev"]
    assert data["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:2"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert not (tmp_path / "config.lock").exists()


def test_remove_clears_the_current_context(tmp_path):
    path = tmp_path / "config"
    kubeconfig.merge(path, entry("dev"))
    kubeconfig.merge(path, entry("prod"))
    assert kubeconfig.remove(path, "prod")
    data = yaml.safe_load(path.read_text())
    assert data["current-context"] == ""
    assert [c["name"] for c in data["contexts"]] == ["ku7s-dev"]
    assert not kubeconfig.remove(path, "prod")
    assert not kubeconfig.remove(tmp_path / "missing", "dev")


def test_with_server_rewrites_every_cluster():
    config = kubeconfig.with_server(entry("dev"), "https://127.0.0.1:9")
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:9"


def test_merge_creates_the_directory_on_a_fresh_machine(tmp_path):
    """A new user has no ~/.kube: the lock file beside the config is the first thing in it."""
    path = tmp_path / "home" / ".kube" / "config"
    kubeconfig.merge(path, entry("dev"))
    assert yaml.safe_load(path.read_text())["current-context"] == "ku7s-dev"
    assert not (path.parent / "config.lock").exists()
