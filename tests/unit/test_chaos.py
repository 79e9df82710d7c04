"""Fault injection without Docker: durations, target selection, the ledger's records and
what counts as a leftover, and the runner's inject-wait-revert with a fake fault."""

from __future__ import annotations

import asyncio
import json
import os
import re

import pytest

from ku7s.chaos.faults.bandwidth import BandwidthFault, rate_bits
from ku7s.chaos.faults.network import NetworkFault, Side, plan_drops, plan_egress
from ku7s.chaos.ledger import FaultRecord, Ledger
from ku7s.chaos.request import parse_latency
from ku7s.chaos.runner import Chaos, build_fault, describe_fault
from ku7s.chaos.scenario import load_scenario
from ku7s.chaos.selection import Selection
from ku7s.chaos.targets import why_out_of_reach
from ku7s.client.rest import APIStatusError
from ku7s.cluster.providers.node_spec import NodeContainer
from ku7s.durations import format_duration, parse_duration
from ku7s.errors import UserInputError


def test_durations_parse_as_go_writes_them():
    assert parse_duration("30s") == 30
    assert parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2h") == 7200
    assert parse_duration("12") == 12
    assert format_duration(90) == "1m30s" and format_duration(0.25) == "250ms"
    for bad in ("", "10x", "s", "-5s", "0s", "1m 30s"):
        with pytest.raises(UserInputError, match="duration"):
            parse_duration(bad)


def test_selection_modes_and_the_seed_repeats_a_choice():
    nodes = [f"w{i}" for i in range(10)]
    assert Selection.parse("all", None, 1).choose(nodes) == sorted(nodes)
    one = Selection.parse("one", None, 42)
    assert len(one.choose(nodes)) == 1 and one.choose(nodes) == one.choose(list(reversed(nodes)))
    assert len(Selection.parse("fixed", 3, 5).choose(nodes)) == 3
    assert len(Selection.parse("fixed-percent", 25, 5).choose(nodes)) == 2
    assert len(Selection.parse("fixed-percent", 1, 5).choose(nodes)) == 1  # at least one
    assert Selection.parse("one", None, None).seed >= 0
    with pytest.raises(UserInputError, match="needs --value"):
        Selection.parse("fixed", None, 1)
    with pytest.raises(UserInputError, match="up to 100"):
        Selection.parse("fixed-percent", 150, 1)
    with pytest.raises(UserInputError, match="only 10 match"):
        Selection.parse("fixed", 11, 1).choose(nodes)


def test_a_record_is_a_leftover_once_its_process_is_gone():
    record = FaultRecord.new("pause", ["w1"], 30, seed=7)
    assert not record.expired and not record.leftover
    record.pid = 2**22 + 12345  # no such process
    assert record.leftover
    with pytest.raises(UserInputError, match="unknown fault"):
        build_fault("melt", None, None, ["w1"], {})  # type: ignore[arg-type]


class FakeAPI:
    def __init__(self) -> None:
        self.configmaps: dict[str, dict] = {}

    async def create(self, path, body):
        self.configmaps[body["metadata"]["name"]] = body
        return body

    async def delete(self, path, params=None):
        self.configmaps.pop(path.rsplit("/", 1)[1], None)
        return {}

    async def get(self, path, params=None):
        if path.endswith("/configmaps"):
            return {"items": list(self.configmaps.values())}
        if path.startswith("/api/v1/nodes/"):
            name = path.rsplit("/", 1)[1]
            return {"metadata": {"name": name, "uid": f"uid-{name}"}}
        raise AssertionError(path)

    async def request(self, *args, **kwargs):  # events
        return {}


class FakeNodeEngines:
    def find_node(self, name: str) -> NodeContainer:
        return NodeContainer(name, "dev", "worker", "running")


class FakeFault:
    kind = "pause"
    reversible = True

    def __init__(self) -> None:
        self.targets = ["w1"]
        self.log: list[str] = []

    async def inject(self) -> None:
        self.log.append("inject")

    async def revert(self) -> None:
        self.log.append("revert")

    def parameters(self) -> dict:
        return {}


async def test_the_runner_records_holds_and_reverts_also_when_cancelled():
    api = FakeAPI()
    said: list[str] = []
    chaos = Chaos(FakeNodeEngines(), api, say=said.append)  # type: ignore[arg-type]
    chaos.events.record = lambda *a, **k: None  # type: ignore[method-assign]
    fault = FakeFault()
    task = asyncio.create_task(chaos.run(fault, 60, seed=3))
    await asyncio.sleep(0.05)
    [stored] = api.configmaps.values()
    record = json.loads(stored["data"]["record"])
    assert record["kind"] == "pause" and record["targets"] == ["w1"] and record["seed"] == 3
    assert record["pid"] == os.getpid()
    assert [r.id for r in await Ledger(api).records()] == [record["id"]]  # type: ignore[arg-type]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fault.log == ["inject", "revert"]
    assert api.configmaps == {}
    assert "injected pause on w1 for 1m" in said[0] and "seed 3" in said[0]
    assert "reverted pause" in said[1]


def test_network_drops_happen_where_packets_arrive():
    worker = Side({"w1": ["172.18.0.3", "10.244.1.0/24"]})
    others = Side({"cp": ["172.18.0.2"]}, host="172.18.0.1")
    to = plan_drops(worker, others, "to")
    assert to == {"cp": ["-s 10.244.1.0/24", "-s 172.18.0.3"], "w1": ["-d 172.18.0.1"]}
    back = plan_drops(worker, others, "from")
    assert back == {"w1": ["-s 172.18.0.1", "-s 172.18.0.2"]}
    both = plan_drops(worker, others, "both")
    assert both["w1"] == ["-d 172.18.0.1", "-s 172.18.0.1", "-s 172.18.0.2"]
    with pytest.raises(UserInputError, match="--direction"):
        plan_drops(worker, others, "sideways")


def test_network_rules_live_in_a_chain_of_their_own():
    fault = NetworkFault(
        "loss", None, ["w1"], drops={"w1": ["-s 10.0.0.1", "-d 10.0.0.9"]}, percent=30, tag="ab"
    )  # type: ignore[arg-type]
    rules = fault.rules("w1")
    assert rules[0] == "iptables -w -N KU7S-CHAOS-ab"
    assert "-s 10.0.0.1 -m statistic --mode random --probability 0.3000 -j DROP" in rules[1]
    assert [r.split()[3] for r in rules if " -I " in r] == ["INPUT", "FORWARD", "OUTPUT"]
    assert "iptables -w -X KU7S-CHAOS-ab" in fault.undo()
    with pytest.raises(UserInputError, match="--percent"):
        NetworkFault("loss", None, ["w1"], drops={"w1": ["-s x"]}, percent=0)  # type: ignore[arg-type]


def test_latency_queues_packets_that_the_delay_process_has_not_yet_let_go():
    fault = NetworkFault(
        "latency", None, ["w1"], drops={"w1": ["-s 10.0.0.1"]}, delay=0.2, jitter=0.02, tag="ab"
    )  # type: ignore[arg-type]
    rule = fault.rules("w1")[1]
    assert "-s 10.0.0.1 -m mark ! --mark 0x20000000/0x20000000" in rule
    assert f"-j NFQUEUE --queue-num {fault.queue} --queue-bypass" in rule
    assert 1000 <= fault.queue < 61000
    delayer = fault.delayer()
    assert delayer[:3] == ["python3", "-m", "node_image.packet_delay"]
    assert "--latency=0.2000" in delayer and "--jitter=0.0200" in delayer
    undo = fault.undo()
    # The rules go before the process, so no packet is queued to a queue no one reads.
    removed = undo.index("iptables -w -t raw -X")
    assert removed < undo.index("pkill -f '[p]acket_delay .*KU7S-CHAOS-ab'")
    with pytest.raises(UserInputError, match="--delay"):
        NetworkFault("latency", None, ["w1"], drops={"w1": ["-s x"]}, delay=0)  # type: ignore[arg-type]


class FakeContainer:
    """Answers docker exec: 0 for everything, or 1 for the netem probe if it has none."""

    def __init__(self, name: str, netem: bool) -> None:
        self.name, self.netem, self.commands = name, netem, []

    def exec_run(self, argv, detach=False):
        command = " ".join(argv)
        self.commands.append(command)
        failed = "netem delay 1ms" in command and not self.netem
        return type("Result", (), {"exit_code": int(failed), "output": b""})()


class FakeEngines:
    def __init__(self, netem: bool) -> None:
        self.made = {n: FakeContainer(n, netem) for n in ("w1", "w2")}

    def container(self, name):
        return self.made[name]


@pytest.mark.parametrize("netem", [True, False])
def test_latency_uses_netem_on_the_senders_where_the_kernel_has_it(netem):
    worker = Side({"w1": ["172.18.0.2", "10.244.1.0/24"]})
    other = Side({"w2": ["172.18.0.3"]})
    docker = FakeEngines(netem)
    fault = build_fault(
        "latency",
        docker,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        [],
        {
            "drops": plan_drops(worker, other, "to"),
            "egress": plan_egress(worker, other, "to"),
            "delay": 0.2,
            "jitter": 0.02,
            "tag": "ab",
        },
    )
    asyncio.run(fault.inject())
    sender, receiver = (" ; ".join(docker.made[n].commands) for n in ("w1", "w2"))
    if netem:
        assert "parent 1:10 handle 10: netem delay 200.0ms 20.0ms" in sender
        assert "u32 match ip dst 172.18.0.3 flowid 1:10" in sender
        assert "NFQUEUE" not in receiver and "packet_delay" not in receiver
    else:
        assert "node_image.packet_delay" in receiver and "NFQUEUE" in receiver
        assert "netem delay 200" not in sender
    # The host sending (the other side's, with --direction from) leaves netem out.
    host = Side({}, host="172.18.0.1")
    assert plan_egress(worker, host, "from") == {}
    assert plan_egress(worker, host, "to") == {"w1": ["172.18.0.1"]}


def test_latency_options_parse_as_durations():
    assert parse_latency("delay", "200ms") == 0.2
    assert parse_latency("jitter", "0ms") == 0.0
    with pytest.raises(UserInputError, match="invalid --delay 'soon'"):
        parse_latency("delay", "soon")
    with pytest.raises(UserInputError, match="invalid --delay '0ms'"):
        parse_latency("delay", "0ms")
    parameters = {"between": "w1 -> all", "delay": 0.2, "jitter": 0.02}
    assert describe_fault("latency", ["w1"], parameters) == "latency 200ms±20ms w1 -> all"


SCENARIO = """\
seed: 40
faults:
- fault: pause
  targets: w1
  duration: 10s
- fault: loss
  labels: tier=db
  mode: one
  percent: 20
  at: 1m
- fault: kill-component
  component: kube-scheduler
  at: 5s
"""


def test_a_scenario_is_checked_whole_and_its_mistakes_name_their_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    assert scenario.seed == 40
    pause, loss, kill = scenario.steps
    assert (pause.line, pause.at, pause.request.seconds, pause.request.targets) == (
        3,
        0.0,
        10.0,
        ["w1"],
    )
    assert loss.at == 60 and loss.request.options == {"percent": 20}
    assert loss.request.selection == Selection("one", 0, 41)  # the scenario's seed, per step
    assert kill.request.component == "kube-scheduler"
    for text, message in (
        (
            SCENARIO.replace("percent: 20", "percnt: 20"),
            "line 6: fault loss takes no field 'percnt'",
        ),
        (SCENARIO.replace("at: 5s", "at: soon"), "line 11: invalid duration 'soon'"),
        (SCENARIO.replace("fault: pause", "fault: nap"), "line 3: unknown fault 'nap'"),
        ("faults: []", "faults must be a non-empty list"),
        ("faults:\n- {fault: pause}\nextra: 1", "unknown field 'extra'"),
        ("faults: [", "is not valid YAML"),
    ):
        path.write_text(text)
        with pytest.raises(UserInputError, match=re.escape(message)):
            load_scenario(path)


class SlowFault(FakeFault):
    async def inject(self) -> None:
        self.log.append("inject")
        await asyncio.sleep(0.2)
        self.log.append("injected")


async def test_an_interrupt_during_injection_still_reverts_once_it_is_done():
    api = FakeAPI()
    chaos = Chaos(FakeNodeEngines(), api, say=lambda _: None)  # type: ignore[arg-type]
    chaos.events.record = lambda *a, **k: None  # type: ignore[method-assign]
    fault = SlowFault()
    task = asyncio.create_task(chaos.run(fault, 60, seed=1))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fault.log == ["inject", "injected", "revert"]
    assert api.configmaps == {}


def test_bandwidth_classes_send_the_other_side_through_the_limit():
    fault = BandwidthFault(
        "bandwidth", None, ["w1"], destinations=["10.0.0.2", "10.244.1.0/24"], rate="8mbit"
    )  # type: ignore[arg-type]
    commands = fault.commands()
    assert commands[0] == "tc qdisc add dev eth0 root handle 1: htb default 1"
    assert "htb rate 8mbit burst 16384" in commands[2]
    assert commands[3].endswith("match ip dst 10.0.0.2 flowid 1:10")
    assert commands[4].endswith("match ip dst 10.244.1.0/24 flowid 1:10")
    assert rate_bits("500kbit") == 500_000
    for bad in ("fast", "10", "-1mbit", "0mbit"):
        with pytest.raises(UserInputError, match="--rate"):
            rate_bits(bad)


async def test_a_node_out_of_chaos_reach_is_named_for_what_it_is():
    class Nodes:
        async def get(self, path, params=None):
            name = path.rsplit("/", 1)[1]
            labels = {"vm": {"ku7s.dev/provider": "ssh"}, "gone": {}}
            if name not in labels:
                raise APIStatusError(404, "NotFound", "not found")
            return {"metadata": {"name": name, "labels": labels[name]}}

    async def why(name: str) -> str:
        return await why_out_of_reach(Nodes(), "dev", name)  # type: ignore[arg-type]

    assert "a machine joined over ssh" in await why("vm")
    assert await why("gone") == 'no node container named "gone" in cluster "dev"'
    assert await why("nope") == 'no node named "nope" in cluster "dev"'
