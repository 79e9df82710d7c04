"""``ku7s``: kind's verbs for ku7s clusters.

Every command is thin: it parses its options, calls one function of ku7s.cluster and prints
the result. Any error ku7s raises on purpose becomes one line, ``ERROR: <what is wrong>``,
and exit status 1; a usage mistake gets the same, with exit status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from ku7s import __version__, kubeconfig
from ku7s.cli.progress import RichProgress
from ku7s.cluster.config import ClusterConfig, NodeConfig, load_config, parse_labels_flag
from ku7s.errors import ConfigError, Ku7sError, NotFoundError, UserInputError
from ku7s.names import WORKER, context_name, validate_cluster_name

DEFAULT_CLUSTER = os.environ.get("KU7S_CLUSTER_NAME", "ku7s")
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

name_option = click.option(
    "--name", "cluster", default=DEFAULT_CLUSTER, show_default=True, help="cluster name"
)
image_option = click.option("--image", default=None, help="node image (default ku7s/node:latest)")
wait_option = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="seconds to wait for nodes to be Ready (0: do not wait)",
)


def _provider():  # noqa: ANN202 (imported lazily: docker is slow to import)
    from ku7s.cluster.providers.docker import DockerProvider

    return DockerProvider.connect()


def _ensure_image(provider: object, image: str | None) -> str:
    """The node image to use: a named one must exist; the default one is (re)built from
    this source tree when missing or out of date (a no-op check when it is current)."""
    from ku7s.cluster.images import DEFAULT_NODE_IMAGE, ImageBuilder
    from ku7s.cluster.providers.docker import DockerProvider

    assert isinstance(provider, DockerProvider)
    if image is not None:
        try:
            provider.client.images.get(image)
        except Exception:
            raise UserInputError(
                f"node image {image} not found; build it with `ku7s build node-image --image "
                f"{image}`"
            ) from None
        return image
    progress = RichProgress(err)
    builder = ImageBuilder(provider.client, say=progress.note)
    if builder.is_current(DEFAULT_NODE_IMAGE):
        return DEFAULT_NODE_IMAGE
    with progress.step(f"Building node image {DEFAULT_NODE_IMAGE}"):
        builder.ensure_node(DEFAULT_NODE_IMAGE)
    return DEFAULT_NODE_IMAGE


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ku7s")
def cli() -> None:
    """ku7s: Kubernetes-shaped clusters in Docker, in seconds."""


# -- create ------------------------------------------------------------------------------


@cli.group()
def create() -> None:
    """Create a cluster or a node."""


@create.command("cluster")
@click.option("--name", "cluster", default=None, help=f"cluster name (default {DEFAULT_CLUSTER})")
@click.option("--workers", type=int, default=None, help="number of worker nodes (default 1)")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="cluster config file (kind: Cluster, apiVersion: ku7s.dev/v1alpha1)",
)
@click.option("--retain", is_flag=True, help="keep the nodes if creation fails, to debug")
@wait_option
@image_option
def create_cluster(
    cluster: str | None,
    workers: int | None,
    config_path: Path | None,
    retain: bool,
    wait: float,
    image: str | None,
) -> None:
    """Create a cluster: one control plane and N workers."""
    from ku7s.cluster.create import ClusterCreator

    config = load_config(config_path) if config_path else ClusterConfig().with_workers(1)
    if workers is not None:
        if config_path and len(config.workers) != workers and _config_has_nodes(config_path):
            raise ConfigError("use either --workers or nodes in the config file, not both")
        config = config.with_workers(workers)
    if cluster is not None or not (config_path and _config_names_cluster(config_path)):
        config = config.with_name(cluster or DEFAULT_CLUSTER)
    provider = _provider()
    tag = _ensure_image(provider, image)
    err.print(f'Creating cluster "{config.name}" ...')
    result = ClusterCreator(provider, RichProgress(err), kubeconfig.default_path()).create(
        config, image=tag, retain=retain, wait=wait
    )
    workers_count = len(result.nodes) - 1
    context = context_name(result.name)
    out.print(
        f'Cluster "{result.name}" is up in {result.seconds:.1f}s: 1 control plane, '
        f"{workers_count} worker{'s' if workers_count != 1 else ''}.\n"
        f'Set kubectl context to "{context}" in {result.kubeconfig_path}. You can now use '
        f"your cluster with:\n\n"
        f"kubectl get nodes --context {context}\n"
        f"kubectl get --raw /readyz --context {context}\n"
    )


def _config_names_cluster(path: Path) -> bool:
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    return isinstance(data, dict) and "name" in data


def _config_has_nodes(path: Path) -> bool:
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    return isinstance(data, dict) and "nodes" in data


@create.command("node")
@name_option
@click.option("--labels", default="", help="node labels, k=v,k2=v2")
@click.option("--cpu", default=None, help="CPU limit, also the node's capacity (e.g. 1, 500m)")
@click.option("--memory", default=None, help="memory limit and capacity (e.g. 512Mi)")
@wait_option
@image_option
def create_node(
    cluster: str, labels: str, cpu: str | None, memory: str | None, wait: float, image: str | None
) -> None:
    """Add a worker node to a running cluster."""
    from ku7s.cluster.config import parse_config
    from ku7s.cluster.nodes import add_node

    validate_cluster_name(cluster)
    resources = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    parsed = parse_config(
        {
            "kind": "Cluster",
            "apiVersion": "ku7s.dev/v1alpha1",
            "nodes": [
                {"role": "control-plane"},
                {"role": WORKER, "labels": parse_labels_flag(labels), "resources": resources},
            ],
        }
    )
    node: NodeConfig = parsed.workers[0]
    provider = _provider()
    tag = _ensure_image(provider, image)
    progress = RichProgress(err)
    with progress.step(f'Adding a worker to cluster "{cluster}"'):
        name = add_node(provider, cluster, node, image=tag, wait=wait)
    out.print(name)


# -- delete ------------------------------------------------------------------------------


@cli.group()
def delete() -> None:
    """Delete a cluster or a node."""


@delete.command("cluster")
@name_option
@click.option("--all", "all_clusters", is_flag=True, help="delete every ku7s cluster")
def delete_cluster_cmd(cluster: str, all_clusters: bool) -> None:
    """Delete a cluster: its containers, volumes, network and kubeconfig context."""
    from ku7s.cluster.delete import delete_cluster

    provider = _provider()
    names = provider.list_clusters() if all_clusters else [validate_cluster_name(cluster)]
    for name in names:
        err.print(f'Deleting cluster "{name}" ...')
        if not delete_cluster(provider, name, kubeconfig.default_path()):
            err.print(f'   no cluster named "{name}" was found; nothing to delete')


@delete.command("node")
@click.argument("node")
def delete_node_cmd(node: str) -> None:
    """Delete a worker node: its container and its Node object."""
    from ku7s.cluster.nodes import delete_node
    from ku7s.names import validate_node_name

    validate_node_name(node)
    cluster = delete_node(_provider(), node)
    err.print(f'Deleted node "{node}" from cluster "{cluster}"')


# -- get / export ------------------------------------------------------------------------


@cli.group()
def get() -> None:
    """List clusters or nodes, print a kubeconfig."""


@get.command("clusters")
def get_clusters() -> None:
    """List clusters."""
    clusters = _provider().list_clusters()
    if not clusters:
        err.print("No ku7s clusters found.")
    for name in clusters:
        out.print(name)


@get.command("nodes")
@name_option
def get_nodes(cluster: str) -> None:
    """List a cluster's node containers."""
    nodes = _provider().list_nodes(validate_cluster_name(cluster))
    if not nodes:
        err.print(f'No nodes found for cluster "{cluster}".')
    for node in nodes:
        out.print(node.name)


@get.command("kubeconfig")
@name_option
@click.option("--internal", is_flag=True, help="address the API server by its container name")
def get_kubeconfig(cluster: str, internal: bool) -> None:
    """Print a cluster's admin kubeconfig."""
    from ku7s.cluster.access import admin_kubeconfig

    config = admin_kubeconfig(_provider(), validate_cluster_name(cluster), internal)
    click.echo(kubeconfig.dump(config), nl=False)


@cli.group()
def export() -> None:
    """Export a kubeconfig."""


@export.command("kubeconfig")
@name_option
def export_kubeconfig(cluster: str) -> None:
    """Merge a cluster's context into $KUBECONFIG or ~/.kube/config."""
    from ku7s.cluster.access import admin_kubeconfig

    config = admin_kubeconfig(_provider(), validate_cluster_name(cluster))
    path = kubeconfig.default_path()
    kubeconfig.merge(path, config)
    err.print(f'Set kubectl context to "{context_name(cluster)}" in {path}')


# -- build -------------------------------------------------------------------------------


@cli.group()
def build() -> None:
    """Build images."""


@build.command("node-image")
@click.option("--image", default=None, help="tag (default ku7s/node:latest)")
@click.option("--force", is_flag=True, help="rebuild even if the sources did not change")
def build_node_image(image: str | None, force: bool) -> None:
    """Build the base, pause, busybox and node images (offline, from Debian packages)."""
    from ku7s.cluster.images import DEFAULT_NODE_IMAGE, ImageBuilder

    provider = _provider()
    progress = RichProgress(err)
    tag = image or DEFAULT_NODE_IMAGE
    with progress.step(f"Building node image {tag}"):
        result = ImageBuilder(provider.client, say=progress.note).ensure_node(tag, force=force)
    state = "built" if result.built else "up to date"
    out.print(f"{tag} {state} ({result.seconds:.1f}s)")


# -- entry point -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="ku7s", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("ERROR: aborted")
        return 130
    except click.UsageError as e:
        err.print(f"ERROR: {e.format_message()}", markup=False)
        return 2
    except click.ClickException as e:
        err.print(f"ERROR: {e.format_message()}", markup=False)
        return e.exit_code
    except (Ku7sError, NotFoundError) as e:
        err.print(f"ERROR: {e}", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("ERROR: interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
