"""``ku7s``: kind's verbs for ku7s clusters.

Every command is thin: it parses its options, calls one function of ku7s.cluster and prints
the result. Any error ku7s raises on purpose becomes one line, ``ERROR: <what is wrong>``,
and exit status 1; a usage mistake gets the same, with exit status 2. So does an error nobody
foresaw (a Docker engine's refusal, a file that cannot be written): its one line says what
failed, and ``--verbose`` prints the traceback too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import yaml

from ku7s import __version__, kubeconfig
from ku7s.cli.context import DEFAULT_CLUSTER, CLIContext
from ku7s.cluster.config import (
    API_VERSION,
    KIND,
    ClusterConfig,
    load_config,
    parse_config,
    parse_labels_flag,
)
from ku7s.errors import ConfigError, Ku7sError, UserInputError
from ku7s.names import CONTROL_PLANE, WORKER, context_name, validate_cluster_name

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
pass_context = click.make_pass_decorator(CLIContext)


def _ensure_image(ctx: CLIContext, image: str | None) -> str:
    """The node image to use: a named one must exist; the default one is (re)built from
    this source tree when missing or out of date (a no-op check when it is current)."""
    from ku7s.cluster.images import DEFAULT_NODE_IMAGE, ImageBuilder

    client = ctx.provider.client
    if image is not None:
        try:
            client.images.get(image)
        except Exception:
            raise UserInputError(
                f"node image {image} not found; build it with `ku7s build node-image --image "
                f"{image}`"
            ) from None
        return image
    progress = ctx.progress()
    builder = ImageBuilder(client, say=progress.note)
    if not builder.is_current(DEFAULT_NODE_IMAGE):
        with progress.step(f"Building node image {DEFAULT_NODE_IMAGE}"):
            builder.ensure_node(DEFAULT_NODE_IMAGE)
    return DEFAULT_NODE_IMAGE


def _config_keys(path: Path) -> set[str]:
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    return set(data) if isinstance(data, dict) else set()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ku7s")
@click.option("-v", "--verbose", is_flag=True, help="print the traceback of unexpected errors")
@pass_context
def cli(ctx: CLIContext, verbose: bool) -> None:
    """ku7s: Kubernetes-shaped clusters in Docker, in seconds."""
    ctx.verbose = verbose


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
@pass_context
def create_cluster(
    ctx: CLIContext,
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
    keys = _config_keys(config_path) if config_path else set()
    if workers is not None:
        if "nodes" in keys:
            raise ConfigError("use either --workers or nodes in the config file, not both")
        config = config.with_workers(workers)
    if cluster is not None or "name" not in keys:
        config = config.with_name(cluster or DEFAULT_CLUSTER)
    tag = _ensure_image(ctx, image)
    ctx.err.print(f'Creating cluster "{config.name}" ...')
    result = ClusterCreator(ctx.provider, ctx.progress(), kubeconfig.default_path()).create(
        config, image=tag, retain=retain, wait=wait
    )
    workers_count = len(result.nodes) - 1
    context = context_name(result.name)
    ctx.out.print(
        f'Cluster "{result.name}" is up in {result.seconds:.1f}s: 1 control plane, '
        f"{workers_count} worker{'s' if workers_count != 1 else ''}.\n"
        f'Set kubectl context to "{context}" in {result.kubeconfig_path}. You can now use '
        f"your cluster with:\n\n"
        f"kubectl cluster-info --context {context}\n"
        f"kubectl get nodes --context {context}\n"
    )


def _ssh_options(required: bool) -> Callable[[Any], Any]:
    """How to reach and trust a machine: the options every SSH command takes."""

    def decorate(command: Any) -> Any:
        for option in reversed(
            [
                click.option(
                    "--host",
                    default=None,
                    required=False,
                    help="[user@]address[:port] of the machine"
                    + ("" if required else " (default: where it joined from)"),
                ),
                click.option(
                    "--identity",
                    type=click.Path(path_type=Path),
                    default=None,
                    help="private key (default: the agent's and ~/.ssh keys)",
                ),
                click.option(
                    "--known-hosts",
                    type=click.Path(path_type=Path),
                    default=None,
                    help="known_hosts file besides ~/.ssh/known_hosts",
                ),
                click.option(
                    "--fingerprint",
                    default=None,
                    help="trust this host key (SHA256:..., as ssh-keygen -lf prints it)",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


@create.command("user")
@click.argument("user")
@click.option("--group", "groups", multiple=True, help="a group the user is in (repeatable)")
@name_option
@pass_context
def create_user(ctx: CLIContext, user: str, groups: tuple[str, ...], cluster: str) -> None:
    """Issue a client certificate for USER and add a kubeconfig context for it.

    The user has no rights until RBAC grants some (for instance
    `kubectl create rolebinding ... --user USER`); the current context stays as it is.
    """
    from ku7s.cluster.users import user_kubeconfig

    config = user_kubeconfig(ctx.provider, validate_cluster_name(cluster), user, groups)
    kubeconfig.merge(kubeconfig.default_path(), config, make_current=False)
    context = config["current-context"]
    ctx.err.print(
        f'User "{user}" added as context "{context}"; use it with `kubectl --context {context}`'
    )


@create.command("node")
@name_option
@click.option("--labels", default="", help="node labels, k=v,k2=v2")
@click.option("--cpu", default=None, help="CPU limit, also the node's capacity (e.g. 1, 500m)")
@click.option("--memory", default=None, help="memory limit and capacity (e.g. 512Mi)")
@click.option(
    "--provider",
    type=click.Choice(["docker", "ssh"]),
    default="docker",
    show_default=True,
    help="a node container, or a machine reached over SSH (--host)",
)
@_ssh_options(required=True)
@click.option(
    "--docker-host",
    default="",
    help="docker: run the node on this engine, ssh://[user@]host[:port] (uses the SSH "
    "key options; the cluster needs networking.nodeServiceAddress)",
)
@click.option(
    "--docker-host-address",
    default="",
    help="docker: where the other hosts reach that engine's host (default: its --docker-host)",
)
@click.option("--node-name", default="", help="ssh: the node's name (default <cluster>-<hostname>)")
@click.option(
    "--hollow",
    is_flag=True,
    help="simulated nodes: the real node protocol, pods on paper (no containers run)",
)
@click.option("--count", type=int, default=1, show_default=True, help="hollow: how many")
@click.option(
    "--capacity",
    default="",
    help="hollow: cpu=32,memory=256Gi,pods=110 (those are the defaults)",
)
@click.option(
    "--untainted",
    is_flag=True,
    help="hollow: without the node.ku7s.dev/hollow=true:NoSchedule taint",
)
@click.option(
    "--control-plane-address",
    default="",
    help="ssh: where the machine reaches the control plane (default its cluster network address)",
)
@wait_option
@image_option
@pass_context
def create_node(
    ctx: CLIContext,
    cluster: str,
    labels: str,
    cpu: str | None,
    memory: str | None,
    provider: str,
    host: str | None,
    identity: Path | None,
    known_hosts: Path | None,
    fingerprint: str | None,
    docker_host: str,
    docker_host_address: str,
    node_name: str,
    hollow: bool,
    count: int,
    capacity: str,
    untainted: bool,
    control_plane_address: str,
    wait: float,
    image: str | None,
) -> None:
    """Add a worker node to a running cluster: a container (on this Docker engine or on
    another one, --docker-host), a machine over SSH, or --hollow nodes (--count of them)."""
    from ku7s.cluster.prometheus import refresh_exports
    from ku7s.cluster.providers.node_provider import NodeProvider

    validate_cluster_name(cluster)
    if hollow:
        if provider != "docker" or docker_host or host or cpu or memory:
            raise UserInputError(
                "--hollow nodes run in containers of this Docker engine: no --provider ssh, "
                "--docker-host, --host, --cpu or --memory (use --capacity)"
            )
        _create_hollow_nodes(ctx, cluster, count, labels, capacity, untainted, wait, image)
        return
    if count != 1 or capacity or untainted:
        raise UserInputError("--count, --capacity and --untainted are for --hollow nodes")
    if docker_host:
        from ku7s.cluster.providers.remote_docker import parse_docker_host

        parse_docker_host(docker_host)
    resources = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    worker = {"role": WORKER, "labels": parse_labels_flag(labels), "resources": resources}
    parsed = parse_config(
        {"kind": KIND, "apiVersion": API_VERSION, "nodes": [{"role": CONTROL_PLANE}, worker]}
    )
    nodes: NodeProvider
    if provider == "ssh":
        from ku7s.cluster.providers.ssh_nodes import SSHNodes
        from ku7s.cluster.ssh_node import SSHAccess

        if not host:
            raise UserInputError("--provider ssh needs --host [user@]address[:port]")
        if cpu or memory or image or docker_host or docker_host_address:
            raise UserInputError(
                "--cpu, --memory, --image and --docker-host are for container nodes"
            )
        access = SSHAccess(host, identity, known_hosts, fingerprint)
        progress = ctx.progress()
        nodes = SSHNodes(
            ctx.provider, cluster, access, node_name=node_name,
            control_plane_address=control_plane_address, say=progress.note,
        )  # fmt: skip
        step, wait = f'Joining {host} to cluster "{cluster}"', wait or 120.0
    else:
        if host or node_name or control_plane_address:
            raise UserInputError(
                "--host, --node-name and --control-plane-address need --provider ssh"
            )
        if (identity or known_hosts or fingerprint or docker_host_address) and not docker_host:
            raise UserInputError("the SSH key options need --provider ssh or --docker-host")
        tag = _ensure_image(ctx, image)
        progress = ctx.progress()
        if docker_host:
            from ku7s.cluster.providers.docker_host_nodes import DockerHostNodes
            from ku7s.cluster.ssh_node import SSHAccess

            access = SSHAccess(docker_host, identity, known_hosts, fingerprint)
            nodes = DockerHostNodes(
                ctx.provider, cluster, access, image=tag,
                endpoint_address=docker_host_address, say=progress.note,
            )  # fmt: skip
            step = f'Adding a worker on {docker_host} to cluster "{cluster}"'
        else:
            from ku7s.cluster.providers.docker_nodes import DockerNodes

            nodes = DockerNodes(ctx.provider, cluster, image=tag)
            step = f'Adding a worker to cluster "{cluster}"'
    with progress.step(step):
        name = nodes.add(parsed.workers[0], wait=wait)
    refresh_exports(ctx.provider, cluster)
    ctx.out.print(name)


def _create_hollow_nodes(
    ctx: CLIContext,
    cluster: str,
    count: int,
    labels: str,
    capacity: str,
    untainted: bool,
    wait: float,
    image: str | None,
) -> None:
    from ku7s.cluster.config import HollowGroup
    from ku7s.cluster.prometheus import refresh_exports
    from ku7s.cluster.providers.hollow_nodes import HollowNodes, check_capacity

    check_capacity(capacity)
    tag = _ensure_image(ctx, image)
    progress = ctx.progress()
    options = HollowGroup(count, parse_labels_flag(labels), capacity, untainted)
    nodes = HollowNodes(ctx.provider, cluster, image=tag)
    with progress.step(f'Adding {count} hollow node{"s" * (count != 1)} to cluster "{cluster}"'):
        names = nodes.add_many(options, wait=max(wait, count / 10) if wait else 0)
    refresh_exports(ctx.provider, cluster)
    for name in names:
        ctx.out.print(name)


# -- delete ------------------------------------------------------------------------------


@cli.group()
def delete() -> None:
    """Delete a cluster or a node."""


@delete.command("cluster")
@name_option
@click.option("--all", "all_clusters", is_flag=True, help="delete every ku7s cluster")
@pass_context
def delete_cluster_cmd(ctx: CLIContext, cluster: str, all_clusters: bool) -> None:
    """Delete a cluster: its containers, volumes, network and kubeconfig context."""
    from ku7s.cluster.delete import delete_cluster

    provider = ctx.provider
    names = provider.list_clusters() if all_clusters else [validate_cluster_name(cluster)]
    for name in names:
        ctx.err.print(f'Deleting cluster "{name}" ...')

    def delete_one(name: str) -> bool:
        return delete_cluster(provider, name, kubeconfig.default_path(), say=ctx.err.print)

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:  # --all: at once
        existed = list(pool.map(delete_one, names))
    for name, found in zip(names, existed, strict=True):
        if not found:
            ctx.err.print(f'   no cluster named "{name}" was found; nothing to delete')


@delete.command("node")
@click.argument("node")
@click.option(
    "--name",
    "cluster",
    default=None,
    help="the cluster, for a machine joined over SSH (default: the container's, or ku7s)",
)
@_ssh_options(required=False)
@pass_context
def delete_node_cmd(
    ctx: CLIContext,
    node: str,
    cluster: str | None,
    host: str | None,
    identity: Path | None,
    known_hosts: Path | None,
    fingerprint: str | None,
) -> None:
    """Delete a worker node: its container, or for a machine joined over SSH what ku7s
    installed on it; then its Node object."""
    from ku7s.cluster.cluster_nodes import ClusterNodes
    from ku7s.cluster.prometheus import refresh_exports
    from ku7s.cluster.ssh_node import SSHAccess
    from ku7s.names import validate_node_name

    validate_node_name(node)
    access = SSHAccess(host or "", identity, known_hosts, fingerprint)
    hollow = ctx.provider.hollow_cluster(node)
    if hollow:
        cluster = hollow
        ClusterNodes(ctx.provider, cluster).hollow.delete(node)
    elif ctx.provider.is_node_container(node):  # quick: no progress to show
        cluster = ctx.provider.find_node(node).cluster
        ClusterNodes(ctx.provider, cluster, access).provider_of(node).delete(node)
    else:
        cluster = validate_cluster_name(cluster or DEFAULT_CLUSTER)
        progress = ctx.progress()
        with progress.step(f'Removing node "{node}" from cluster "{cluster}"'):
            nodes = ClusterNodes(ctx.provider, cluster, access, say=progress.note)
            nodes.provider_of(node).delete(node)
    refresh_exports(ctx.provider, cluster)
    ctx.err.print(f'Deleted node "{node}" from cluster "{cluster}"')


# -- get / export ------------------------------------------------------------------------


@cli.group()
def get() -> None:
    """List clusters or nodes, print a kubeconfig."""


@get.command("clusters")
@pass_context
def get_clusters(ctx: CLIContext) -> None:
    """List clusters."""
    clusters = ctx.provider.list_clusters()
    if not clusters:
        ctx.err.print("No ku7s clusters found.")
    for name in clusters:
        ctx.out.print(name)


@get.command("nodes")
@name_option
@pass_context
def get_nodes(ctx: CLIContext, cluster: str) -> None:
    """List a cluster's nodes and where each runs: a Docker container (here, or on another
    Docker host), or a machine over SSH."""
    from ku7s.cluster.cluster_nodes import ClusterNodes

    rows, missing = ClusterNodes(ctx.provider, validate_cluster_name(cluster)).listing()
    if not rows:
        ctx.err.print(f'No nodes found for cluster "{cluster}".')
        return
    if missing:
        ctx.err.print(f"({missing})")
    width = max(len(name) for name in rows)
    for name, where in rows.items():
        ctx.out.print(f"{name:<{width}}  {where}", highlight=False)


@get.command("kubeconfig")
@name_option
@click.option("--internal", is_flag=True, help="address the API server by its container name")
@pass_context
def get_kubeconfig(ctx: CLIContext, cluster: str, internal: bool) -> None:
    """Print a cluster's admin kubeconfig."""
    from ku7s.cluster.access import admin_kubeconfig

    config = admin_kubeconfig(ctx.provider, validate_cluster_name(cluster), internal)
    ctx.out.out(kubeconfig.dump(config), end="", highlight=False)


@cli.group()
def export() -> None:
    """Export a kubeconfig, a Prometheus configuration, or the nodes' logs."""


@export.command("kubeconfig")
@name_option
@pass_context
def export_kubeconfig(ctx: CLIContext, cluster: str) -> None:
    """Merge a cluster's context into $KUBECONFIG or ~/.kube/config."""
    from ku7s.cluster.access import admin_kubeconfig

    config = admin_kubeconfig(ctx.provider, validate_cluster_name(cluster))
    path = kubeconfig.default_path()
    kubeconfig.merge(path, config)
    ctx.err.print(f'Set kubectl context to "{context_name(cluster)}" in {path}')


@export.command("prometheus-config")
@name_option
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="where to write it (default ./ku7s-prometheus-<cluster>)",
)
@pass_context
def export_prometheus_config_cmd(ctx: CLIContext, cluster: str, directory: Path | None) -> None:
    """Write a Prometheus configuration that scrapes every component of a cluster, kept up to
    date with its nodes; run `prometheus --config.file=<printed path>`."""
    from ku7s.cluster.prometheus import export_prometheus_config

    validate_cluster_name(cluster)
    path = export_prometheus_config(
        ctx.provider, cluster, directory or Path(f"ku7s-prometheus-{cluster}")
    )
    ctx.out.print(str(path), highlight=False)


@export.command("logs")
@click.argument("directory", type=click.Path(path_type=Path))
@name_option
@pass_context
def export_logs_cmd(ctx: CLIContext, directory: Path, cluster: str) -> None:
    """Copy every node's component and pod logs into DIRECTORY/<node>/."""
    from ku7s.cluster.logs import export_logs

    counts = export_logs(ctx.provider, validate_cluster_name(cluster), directory)
    for node, files in counts.items():
        ctx.out.print(f"{node}: {files} files", highlight=False)
    ctx.err.print(f"Exported logs to {directory}")


# -- build -------------------------------------------------------------------------------


@cli.group()
def build() -> None:
    """Build images."""


@build.command("node-image")
@click.option("--image", default=None, help="tag (default ku7s/node:latest)")
@click.option("--force", is_flag=True, help="rebuild even if the sources did not change")
@pass_context
def build_node_image(ctx: CLIContext, image: str | None, force: bool) -> None:
    """Build the base, pause, busybox and node images (offline, from Debian packages)."""
    from ku7s.cluster.images import DEFAULT_NODE_IMAGE, ImageBuilder

    tag = image or DEFAULT_NODE_IMAGE
    progress = ctx.progress()
    with progress.step(f"Building node image {tag}"):
        builder = ImageBuilder(ctx.provider.client, say=progress.note)
        result = builder.ensure_node(tag, force=force)
    state = "built" if result.built else "up to date"
    ctx.out.print(f"{tag} {state} ({result.seconds:.1f}s)")


@cli.group()
def load() -> None:
    """Load images into a cluster's nodes."""


@load.command("image")
@click.argument("images", nargs=-1, required=True)
@name_option
@click.option("--nodes", default="", help="only these workers, comma-separated")
@pass_context
def load_image(ctx: CLIContext, images: tuple[str, ...], cluster: str, nodes: str) -> None:
    """Copy IMAGES from the host's Docker into every worker's containerd (as `kind load
    docker-image`). nginx, python and busybox are built from Debian packages if missing."""
    from ku7s.cluster.docker_hosts import ctr_elsewhere
    from ku7s.cluster.image_loader import ImageLoader

    progress = ctx.progress()
    wanted = [n.strip() for n in nodes.split(",") if n.strip()] or None
    with (
        progress.step(f"Loading {', '.join(images)} into cluster {cluster}"),
        ctr_elsewhere(ctx.provider, cluster) as elsewhere,
    ):
        loader = ImageLoader(ctx.provider, say=progress.note)
        results = loader.load(cluster, list(images), wanted, elsewhere)
    for result in results:
        state = "loaded" if result.loaded else "already present"
        ctx.out.print(f"{result.image} {state} on {result.node}")


def _register_chaos() -> None:
    from ku7s.cli.chaos import chaos

    cli.add_command(chaos)


_register_chaos()


# -- entry point -------------------------------------------------------------------------


def main(argv: list[str] | None = None, context: CLIContext | None = None) -> int:
    ctx = context or CLIContext()

    def fail(message: str, code: int) -> int:
        ctx.err.print(f"ERROR: {message}", markup=False)
        return code

    try:
        cli.main(args=argv, prog_name="ku7s", standalone_mode=False, obj=ctx)
    except click.exceptions.Abort:
        return fail("aborted", 130)
    except click.UsageError as e:
        return fail(e.format_message(), 2)
    except click.ClickException as e:
        return fail(e.format_message(), e.exit_code)
    except Ku7sError as e:
        return fail(str(e), 1)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as e:  # the last line of defence: one line, not a traceback
        if ctx.verbose:
            ctx.err.print_exception()
        return fail(unexpected_error_line(e, ctx.verbose), 1)
    return 0


def unexpected_error_line(error: Exception, verbose: bool) -> str:
    """One line for an error no command handled: what failed, and where to look further."""
    import docker.errors

    if isinstance(error, docker.errors.APIError):
        what = f"the Docker engine refused: {error.explanation or error}"
    elif isinstance(error, docker.errors.DockerException):
        what = f"talking to the Docker engine failed: {error}"
    elif isinstance(error, OSError) and error.filename:
        what = f"{error.strerror or error}: {error.filename}"
    else:
        what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    what = " ".join(what.split())
    return what if verbose else f"{what} (run again with --verbose for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
