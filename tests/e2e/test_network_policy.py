"""NetworkPolicy enforced on real nodes, checked as upstream's "netpol" e2e tests do: three
namespaces of three pods each (spread over the workers), every pod serving TCP ports 80
and 81, every pod probing every pod on both ports; after each policy change the whole
reachability matrix is compared with the truth table of the case."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, unique

NAMES = ("x", "y", "z")
PODS = ("a", "b", "c")
PORTS = (80, 81)
SERVE = "nc -ll -p 80 -e true & nc -ll -p 81 -e true & wait"


@dataclass(frozen=True)
class Peer:
    ns: str  # x, y or z
    pod: str  # a, b or c

    def __str__(self) -> str:
        return f"{self.ns}/{self.pod}"


ALL = [Peer(n, p) for n in NAMES for p in PODS]
Truth = Callable[[Peer, Peer, int], bool]


@dataclass
class Matrix:
    cluster: Cluster
    namespaces: dict[str, str]  # x -> the real namespace name
    ips: dict[Peer, str]

    def probe(self) -> dict[tuple[Peer, Peer, int], bool]:
        """Every pod tries every pod on both ports at once (1 s connect timeout)."""
        targets = " ".join(f"{p}={self.ips[p]}" for p in ALL)
        script = textwrap.dedent(f"""
            for t in {targets}; do
              for port in 80 81; do
                (nc -w 1 ${{t#*=}} $port </dev/null >/dev/null 2>&1 \\
                  && echo "${{t%%=*}} $port ok" || echo "${{t%%=*}} $port no") &
              done
            done
            wait
        """)

        def from_pod(source: Peer) -> list[str]:
            result = self.cluster.kubectl(
                "exec", source.pod, "-n", self.namespaces[source.ns], "--", "sh", "-c", script,
                timeout=60,
            )  # fmt: skip
            return result.stdout.splitlines()

        seen: dict[tuple[Peer, Peer, int], bool] = {}
        with ThreadPoolExecutor(len(ALL)) as pool:
            for source, lines in zip(ALL, pool.map(from_pod, ALL), strict=True):
                for line in lines:
                    target, port, verdict = line.split()
                    ns, pod = target.split("/")
                    seen[(source, Peer(ns, pod), int(port))] = verdict == "ok"
        return seen

    def expect(self, truth: Truth, what: str) -> None:
        """Probe until the matrix is the truth table (policies apply within a second or
        so on every node); fail with the cells that differ. A connection that succeeded
        proves its cell open; a blocked cell must be blocked in the latest probe (a probe
        can time out on a busy machine, so one failure does not prove a cell closed)."""
        wanted = {
            (s, d, port): s == d or truth(s, d, port) for s in ALL for d in ALL for port in PORTS
        }
        opened: set[tuple[Peer, Peer, int]] = set()
        wrong: list[str] = []
        # Policies are programmed within 0.25 s (p99, bench_network_policy.py): after a
        # second, every open connection seen is one the new rules let through.
        time.sleep(1)
        for _ in range(10):
            seen = self.probe()
            opened |= {cell for cell, ok in seen.items() if ok}
            wrong = [
                f"{s} -> {d}:{port} {'blocked' if allowed else 'allowed'}"
                for (s, d, port), allowed in wanted.items()
                if (allowed and (s, d, port) not in opened)
                or (not allowed and seen.get((s, d, port)) is not False)
            ]
            if not wrong:
                return
        raise AssertionError(f"{what}: {len(wrong)} cells differ: {wrong[:12]}")

    def apply(self, ns: str, manifest: str, tmp_path: Path) -> None:
        path = tmp_path / f"{unique('np')}.yaml"
        path.write_text(textwrap.dedent(manifest))
        self.cluster.kubectl("apply", "-n", self.namespaces[ns], "-f", str(path))

    def reset(self) -> None:
        for real in self.namespaces.values():
            self.cluster.kubectl("delete", "networkpolicy", "--all", "-n", real)


@pytest.fixture(scope="module")
def matrix(cluster: Cluster) -> Iterator[Matrix]:
    namespaces = {n: unique(f"netpol-{n}") for n in NAMES}
    workers = sorted(cluster.workers)
    try:
        for short, real in namespaces.items():
            cluster.kubectl("create", "namespace", real)
            cluster.kubectl("label", "namespace", real, f"netpol={short}")
        for i, peer in enumerate(ALL):
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": peer.pod, "labels": {"pod": peer.pod}},
                "spec": {
                    "nodeName": workers[i % len(workers)],
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "serve",
                            "image": "busybox",
                            "command": ["sh", "-c", SERVE],
                            "ports": [
                                {"name": "serve-80", "containerPort": 80},
                                {"name": "serve-81", "containerPort": 81},
                            ],
                        }
                    ],
                },
            }
            subprocess.run(
                [*cluster.kubectl_argv(), "create", "-n", namespaces[peer.ns], "-f", "-"],
                input=json.dumps(pod), check=True, capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        ips = {}
        for peer in ALL:
            real = namespaces[peer.ns]
            cluster.kubectl(
                "wait", "--for=condition=Ready", f"pod/{peer.pod}", "-n", real, "--timeout=90s",
                timeout=100,
            )  # fmt: skip
            ips[peer] = cluster.get_json("pod", peer.pod, "-n", real)["status"]["podIP"]
        yield Matrix(cluster, namespaces, ips)
    finally:
        for real in namespaces.values():
            cluster.kubectl("delete", "namespace", real, "--wait=false", check=False)


@pytest.fixture
def m(matrix: Matrix) -> Iterator[Matrix]:
    matrix.reset()
    yield matrix
    matrix.reset()


def test_without_policies_every_pod_reaches_every_pod(m: Matrix):
    m.expect(lambda s, d, port: True, "no policies")


def test_default_deny_ingress_closes_a_namespace_and_only_it(m: Matrix, tmp_path: Path):
    m.apply("x", "{kind: NetworkPolicy, apiVersion: networking.k8s.io/v1, metadata: {name: deny},"
                 " spec: {podSelector: {}, policyTypes: [Ingress]}}", tmp_path)  # fmt: skip
    m.expect(lambda s, d, port: d.ns != "x", "default deny ingress in x")


def test_pod_selector_and_port_allow_one_neighbour_on_one_port(m: Matrix, tmp_path: Path):
    policy = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: a-from-b}
        spec:
          podSelector: {matchLabels: {pod: a}}
          ingress:
          - from: [{podSelector: {matchLabels: {pod: b}}}]
            ports: [{port: 80}]
    """
    m.apply("x", policy, tmp_path)

    def truth(s: Peer, d: Peer, port: int) -> bool:
        if d == Peer("x", "a"):
            return s == Peer("x", "b") and port == 80
        return True

    m.expect(truth, "x/a open to x/b on 80")
    # The policy changes to port 81: the matrix follows.
    m.apply("x", policy.replace("port: 80", "port: 81"), tmp_path)
    m.expect(
        lambda s, d, port: truth(s, d, 80 if port == 81 else 81), "x/a open to x/b on 81 after edit"
    )
    m.cluster.kubectl("delete", "networkpolicy", "a-from-b", "-n", m.namespaces["x"])
    m.expect(lambda s, d, port: True, "after the policy is deleted")


def test_namespace_and_pod_selectors_together(m: Matrix, tmp_path: Path):
    m.apply(
        "x",
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: from-y-c}
        spec:
          podSelector: {}
          ingress:
          - from:
            - namespaceSelector: {matchLabels: {netpol: "y"}}
              podSelector: {matchLabels: {pod: c}}
        """,
        tmp_path,
    )
    m.expect(lambda s, d, port: d.ns != "x" or s == Peer("y", "c"), "x open to y/c only")
    # The namespace loses the label the policy selects it by: the rules follow.
    y = m.namespaces["y"]
    m.cluster.kubectl("label", "namespace", y, "netpol=elsewhere", "--overwrite")
    try:
        m.expect(lambda s, d, port: d.ns != "x", "x closed once y's label changed")
    finally:
        m.cluster.kubectl("label", "namespace", y, "netpol=y", "--overwrite")


def test_ip_block_with_except_named_port_and_port_range(m: Matrix, tmp_path: Path):
    excluded = m.ips[Peer("z", "b")]
    m.apply(
        "x",
        f"""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {{name: block}}
        spec:
          podSelector: {{matchLabels: {{pod: a}}}}
          ingress:
          - from: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [{excluded}/32]}}}}]
            ports: [{{port: serve-81}}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {{name: range}}
        spec:
          podSelector: {{matchLabels: {{pod: b}}}}
          ingress:
          - ports: [{{port: 79, endPort: 80}}]
        """,
        tmp_path,
    )

    def truth(s: Peer, d: Peer, port: int) -> bool:
        if d == Peer("x", "a"):
            return port == 81 and s != Peer("z", "b")
        if d == Peer("x", "b"):
            return port == 80
        return True

    m.expect(truth, "ipBlock except, named port, endPort")


def test_default_deny_egress_keeps_dns_when_allowed(m: Matrix, tmp_path: Path):
    m.apply(
        "z",
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: egress}
        spec:
          podSelector: {}
          policyTypes: [Egress]
          egress:
          - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}},
                  podSelector: {matchLabels: {k8s-app: kube-dns}}}]
            ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
          - to: [{namespaceSelector: {matchLabels: {netpol: "x"}}}]
            ports: [{port: 80}]
        """,
        tmp_path,
    )

    def truth(s: Peer, d: Peer, port: int) -> bool:
        return s.ns != "z" or (d.ns == "x" and port == 80)

    m.expect(truth, "z reaches only x on 80 (and DNS)")
    looked_up = m.cluster.kubectl(
        "exec", "a", "-n", m.namespaces["z"], "--", "nslookup", "kubernetes.default", timeout=30
    )
    assert "Address" in looked_up.stdout and "10.96.0.1" in looked_up.stdout


def test_an_invalid_policy_is_refused(m: Matrix, tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad}\n"
        "spec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.300/8}}]\n"
    )
    result = m.cluster.kubectl("apply", "-n", m.namespaces["x"], "-f", str(path), check=False)
    assert result.returncode != 0
    assert "is invalid" in result.stderr and "cidr" in result.stderr
