"""``ku7s chaos``: inject a fault and hold it (Ctrl-C reverts it early), list the faults in
force, recover them. Thin, as the other commands: the work is in ku7s.chaos."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ku7s.cli.context import DEFAULT_CLUSTER, CLIContext
from ku7s.errors import Ku7sError, UserInputError

if TYPE_CHECKING:
    from ku7s.chaos.runner import Chaos

T = TypeVar("T")

pass_context = click.make_pass_decorator(CLIContext)
name_option = click.option("--name", "cluster", default=None, help="cluster name")

#: Node faults held for a duration, then reverted.
HELD = {
    "kill": "SIGKILL every process of the nodes; start them again at the end",
    "stop": "stop the nodes' containers; start them again at the end",
    "pause": "freeze every process of the nodes; thaw them at the end",
    "drain": "cordon the nodes and evict their pods as `kubectl drain` does (disruption "
    "budgets decide what may go); uncordon them at the end",
}
#: Node faults done once.
ONE_SHOT = {
    "restart": "restart the nodes' containers",
    "start": "start stopped nodes",
    "remove": "remove the nodes for good, as `ku7s delete node`",
}


def _with_chaos(ctx: CLIContext, cluster: str | None, work: Callable[[Chaos], Awaitable[T]]) -> T:
    from ku7s.chaos.runner import Chaos
    from ku7s.client.rest import APIClient
    from ku7s.cluster.access import admin_kubeconfig
    from ku7s.cluster.engines import ClusterEngines

    name = cluster or DEFAULT_CLUSTER
    config = admin_kubeconfig(ctx.provider, name)

    async def run() -> T:
        # Ctrl-C or a kill ends the wait and the fault is reverted on the way out (also in a
        # background job, where the shell has SIGINT ignored).
        main = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: main.cancel() if main else None)
        async with APIClient.from_kubeconfig(config, timeout=30) as client:
            with ClusterEngines(ctx.provider, name) as engines:
                return await work(
                    Chaos(engines, client, say=lambda t: ctx.out.print(t, markup=False))
                )

    try:
        return asyncio.run(run())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def _fault_command(
    kind: str,
    help_text: str,
    *,
    held: bool,
    component: bool = False,
    namespaced: str = "",
    extras: tuple[Callable[[Any], Any], ...] = (),
) -> click.Command:
    """A command that injects one kind of fault into nodes, one of their components (named
    first), or objects of a namespace (`namespaced` names them: pods, claims); `extras` are
    the fault's own options."""

    @click.argument("targets", nargs=-1)
    @click.option("--labels", default="", help="select the targets by label selector instead")
    @click.option(
        "--mode",
        default="all",
        type=click.Choice(["one", "all", "fixed", "fixed-percent"]),
        show_default=True,
        help="how many of the selected targets to hit",
    )
    @click.option("--value", type=int, default=None, help="N for fixed, percent for fixed-percent")
    @click.option("--seed", type=int, default=None, help="repeat an earlier random choice")
    @name_option
    @pass_context
    def command(
        ctx: CLIContext,
        targets: tuple[str, ...],
        labels: str,
        mode: str,
        value: int | None,
        seed: int | None,
        cluster: str | None,
        duration: str = "30s",
        component: str = "",
        namespace: str = "default",
        **extra: object,
    ) -> None:
        from ku7s.chaos.request import FaultRequest, prepare
        from ku7s.chaos.selection import Selection
        from ku7s.durations import parse_duration

        name = cluster or DEFAULT_CLUSTER
        request = FaultRequest(
            kind,
            list(targets),
            labels,
            Selection.parse(mode, value, seed),
            parse_duration(duration),
            component,
            namespace,
            {k: v for k, v in extra.items() if v not in (None, "")},
        )

        async def work(chaos: Chaos) -> None:
            fault = await prepare(chaos, name, request)
            await chaos.run(fault, request.seconds, request.selection.seed)

        _with_chaos(ctx, name, work)

    for option in extras:
        command = option(command)
    if namespaced:
        command = click.option(
            "-n",
            "--namespace",
            default="default",
            show_default=True,
            help=f"the {namespaced}' namespace",
        )(command)
    if held:
        command = click.option(
            "--duration", default="30s", show_default=True, help="how long the fault holds"
        )(command)
    if component:
        command = click.argument("component")(command)
    return click.command(kind, help=help_text)(command)


@click.group()
def chaos() -> None:
    """Break nodes, components and pods on purpose; every fault reverts itself."""


for _kind, _help in HELD.items():
    chaos.add_command(_fault_command(_kind, _help, held=True))
for _kind, _help in ONE_SHOT.items():
    chaos.add_command(_fault_command(_kind, _help, held=False))
chaos.add_command(
    _fault_command(
        "kill-component",
        "SIGKILL one component (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, "
        "cloud-controller-manager, cluster-dns; or containerd, kubelet, kube-proxy of the nodes "
        "named); its supervisor restarts it",
        held=False,
        component=True,
    )
)
chaos.add_command(
    _fault_command(
        "stop-component",
        "freeze one component (as kill-component names them) for the duration, then resume it",
        held=True,
        component=True,
    )
)
chaos.add_command(
    _fault_command(
        "kill-container",
        "SIGKILL the pods' containers in containerd, behind the kubelet's back",
        held=False,
        namespaced="pods",
        extras=(click.option("--container", default="", help="only this container"),),
    )
)
chaos.add_command(
    _fault_command(
        "kill-pod", "delete the pods at once (grace period 0)", held=False, namespaced="pods"
    )
)
chaos.add_command(
    _fault_command(
        "detach-volume",
        "take the claims' ku7s-disk from under their pods (reads and writes fail with I/O "
        "errors); the revert attaches it again and restarts the pods' containers",
        held=True,
        namespaced="claims",
    )
)


def _network_options(direction: str) -> tuple[Callable[[Any], Any], ...]:
    return (
        click.option(
            "--target",
            default="all",
            show_default=True,
            help="the other side: all, or node names, control-plane and host, comma-separated",
        ),
        click.option(
            "--direction",
            type=click.Choice(["to", "from", "both"]),
            default=direction,
            show_default=True,
            help="which way packets are hit: to the other side, from it, or both",
        ),
    )


chaos.add_command(
    _fault_command(
        "partition",
        "cut the nodes off from the other side (--target) for the duration",
        held=True,
        extras=_network_options("both"),
    )
)
chaos.add_command(
    _fault_command(
        "loss",
        "drop a percentage of the packets between the nodes and the other side",
        held=True,
        extras=(
            *_network_options("to"),
            click.option("--percent", type=float, default=30.0, show_default=True),
        ),
    )
)
chaos.add_command(
    _fault_command(
        "latency",
        "hold every packet between the nodes and the other side for --delay, give or take --jitter",
        held=True,
        extras=(
            *_network_options("to"),
            click.option("--delay", default="100ms", show_default=True, help="e.g. 200ms, 1s"),
            click.option("--jitter", default="0ms", show_default=True, help="e.g. 20ms"),
        ),
    )
)
chaos.add_command(
    _fault_command(
        "bandwidth",
        "hold the nodes' traffic to the other side (--target) to a rate",
        held=True,
        extras=(
            _network_options("to")[0],
            click.option("--rate", default="1mbit", show_default=True, help="e.g. 500kbit, 10mbit"),
        ),
    )
)
chaos.add_command(
    _fault_command(
        "cpu-burn",
        "busy loops inside the nodes for the duration",
        held=True,
        extras=(
            click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True),
        ),
    )
)
chaos.add_command(
    _fault_command(
        "memory-fill",
        "hold memory inside the nodes for the duration",
        held=True,
        extras=(click.option("--size", default="256Mi", show_default=True, help="per node"),),
    )
)


@chaos.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@name_option
@pass_context
def run_scenario_cmd(ctx: CLIContext, scenario: Path, cluster: str | None) -> None:
    """Run the faults of a SCENARIO file on its timeline, then print what happened when."""
    from ku7s.chaos.scenario import load_scenario, run_scenario

    name = cluster or DEFAULT_CLUSTER
    loaded = load_scenario(scenario)

    async def work(chaos: Chaos) -> None:
        steps = await run_scenario(chaos, name, loaded)
        failed = [s for s in steps if s.outcome.startswith("failed")]
        if failed:
            raise Ku7sError(f"{len(failed)} of {len(steps)} faults failed; see the summary")

    _with_chaos(ctx, name, work)


@chaos.command("list")
@name_option
@pass_context
def list_faults(ctx: CLIContext, cluster: str | None) -> None:
    """The faults in force, and leftovers of runs that died."""

    async def work(chaos: Chaos) -> None:
        records = await chaos.ledger.records()
        if not records:
            ctx.out.print("No faults in force.")
            return
        ctx.out.print(f"{'ID':<10}{'FAULT':<16}{'TARGETS':<40}{'STARTED':<27}STATE")
        for r in records:
            state = "leftover (its run is gone)" if r.leftover else f"until {r.expires}"
            targets = ",".join(r.targets)
            ctx.out.print(f"{r.id:<10}{r.kind:<16}{targets:<40}{r.started:<27}{state}")

    _with_chaos(ctx, cluster, work)


@chaos.command("recover")
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="every fault in force")
@name_option
@pass_context
def recover(ctx: CLIContext, ids: tuple[str, ...], everything: bool, cluster: str | None) -> None:
    """Revert faults: the IDS given, --all, or (with neither) the leftovers of dead runs."""
    if ids and everything:
        raise UserInputError("give fault IDs or --all, not both")

    async def work(chaos: Chaos) -> None:
        done = await chaos.recover(list(ids), everything)
        if not done:
            ctx.out.print("Nothing to recover.")

    _with_chaos(ctx, cluster, work)
