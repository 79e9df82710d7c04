"""A machine made a worker over SSH: what is installed where, and how it is taken away again.

Everything ku7s puts on the machine lives in its own places, so the machine's own containerd
or CNI set-up (if any) is left alone and removal is exact:

- ``/opt/ku7s``: a venv with the node agent (ku7s's wheel) and its dependencies (wheels
  built on the host for the node image), and the images every node preloads;
- ``/etc/ku7s``: the cluster CA, the agent's environment, containerd's configuration,
  CNI configuration (``/etc/ku7s/cni``), and the list of Debian packages ku7s installed;
- ``/var/lib/ku7s``, ``/run/ku7s``, ``/var/log/ku7s``: state, sockets and logs, containerd's
  included;
- one service: a systemd unit where systemd runs, else the ku7s supervisor started now
  (``/run/ku7s/node.pid``);
- one ``/etc/hosts`` line naming the control plane (its certificate's name).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import shlex
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.access import admin_kubeconfig, forget_node, wait_for_nodes
from ku7s.cluster.images import ImageBuilder, project_root
from ku7s.cluster.node_specs import NODE_SERVICE_ADDRESS_ENV, PKI_DIR, TOKENS_PATH
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.ssh import SSHError, SSHHost, SSHTarget, host_facts
from ku7s.errors import NotFoundError, UserInputError
from ku7s.names import (
    CLUSTER_ENV,
    PROVIDER_LABEL,
    WORKER,
    control_plane_name,
    network_name,
    validate_node_name,
)

#: Debian packages the agent runs on; those missing are installed (and removed on delete).
PACKAGES = (
    "containerd",
    "runc",
    "containernetworking-plugins",
    "python3",
    "python3-venv",
    "iptables",
    "conntrack",
    "iproute2",
    "procps",
)
ROOT = "/opt/ku7s"
CONFIG = "/etc/ku7s"
ENV_FILE = f"{CONFIG}/node.env"
INSTALLED_LIST = f"{CONFIG}/installed-packages"
UNIT = "/etc/systemd/system/ku7s-node.service"
PID_FILE = "/run/ku7s/node.pid"
HOSTS_MARK = "# ku7s control plane"
CONTAINERD_SOCKET = "/run/ku7s/containerd/containerd.sock"
STATE_DIRS = (ROOT, CONFIG, "/var/lib/ku7s", "/run/ku7s", "/var/log/ku7s")
#: Places containerd and CNI make whatever their configuration says; removed on delete if
#: they were not there before the install.
SHARED_PATHS = ("/run/containerd", "/run/netns", "/run/mount", "/var/lib/cni", "/opt/containerd")
CREATED_LIST = f"{CONFIG}/created-paths"
#: Mounts the agent's pods leave behind (below its own directories, and their netns).
OWN_MOUNTS = "^/(run|var/lib)/ku7s/|^/run/netns/cni-|^/run/containerd/"
CNI_NETWORK = "ku7s"
HOST_ANNOTATION = "ku7s.dev/ssh-host"


def containerd_config() -> str:
    """The node image's containerd configuration, moved into ku7s's own places."""
    text = (
        project_root() / "node_image" / "rootfs" / "etc" / "containerd" / "config.toml"
    ).read_text()
    return (
        text.replace('root = "/var/lib/containerd"', 'root = "/var/lib/ku7s/containerd"')
        .replace('state = "/run/containerd"', 'state = "/run/ku7s/containerd-state"')
        .replace('"/run/containerd/containerd.sock"', f'"{CONTAINERD_SOCKET}"')
        .replace('conf_dir = "/etc/cni/net.d"', f'conf_dir = "{CONFIG}/cni"')
        # containerd's "opt" plugin would otherwise make /opt/containerd.
        + '\n[plugins."io.containerd.internal.v1.opt"]\n  path = "/var/lib/ku7s/containerd-opt"\n'
    )


def hosts_command(entry: str = "") -> str:
    """Shell that drops ku7s's line from /etc/hosts and adds ``entry`` (if any), rewriting the
    file in place: it may be a mount that cannot be renamed over (as in containers)."""
    add = f"echo '{entry} {HOSTS_MARK}' >> /tmp/hosts.ku7s; " if entry else ""
    return (
        f"grep -v '{HOSTS_MARK}' /etc/hosts > /tmp/hosts.ku7s; {add}"
        "cat /tmp/hosts.ku7s > /etc/hosts && rm -f /tmp/hosts.ku7s"
    )


def unit_file() -> str:
    return (
        "[Unit]\nDescription=ku7s node agent (containerd, kubelet, kube-proxy)\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        f"[Service]\nEnvironmentFile={ENV_FILE}\n"
        f"ExecStart={ROOT}/venv/bin/python -m node_image\n"
        "KillMode=mixed\nRestart=always\nRestartSec=2\nDelegate=yes\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


@dataclass
class Joining:
    """What the machine needs to join one cluster."""

    cluster: str
    node_name: str
    control_plane: str  # the control plane's name, as its certificate names it
    control_plane_address: str  # where the machine reaches it
    token: str
    ca_pem: bytes
    labels: dict[str, str] = field(default_factory=dict)

    def environment(self, node_ip: str) -> str:
        labels = {**self.labels, PROVIDER_LABEL: "ssh"}
        values = {
            "KU7S_ROLE": WORKER,
            CLUSTER_ENV: self.cluster,
            "KU7S_NODE_NAME": self.node_name,
            "KU7S_CONTROL_PLANE": self.control_plane,
            "KU7S_BOOTSTRAP_TOKEN": self.token,
            "KU7S_NODE_LABELS": ",".join(f"{k}={v}" for k, v in labels.items()),
            "KU7S_NODE_IP": node_ip,
            "KU7S_CA_FILE": f"{CONFIG}/pki/ca.crt",
            "KU7S_CONTAINERD_CONFIG": f"{CONFIG}/containerd.toml",
            "KU7S_CONTAINERD_SOCKET": CONTAINERD_SOCKET,
            # ctr's own setting, for the kubelet's exec (ctr task exec) and image imports
            "CONTAINERD_ADDRESS": CONTAINERD_SOCKET,
            "KU7S_CNI_CONF_DIR": f"{CONFIG}/cni",
            "PYTHONUNBUFFERED": "1",
        }
        return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def bundle(builder: ImageBuilder) -> bytes:
    """The agent, its wheels and the preloaded images, as one tar to copy over."""
    with tempfile.TemporaryDirectory(prefix="ku7s-agent-") as tmp:
        images = Path(tmp) / "images"
        builder.save_preloaded(images)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(str(builder.node_wheels()), arcname="wheels")
            agent = builder.agent_wheel()
            tar.add(str(agent), arcname=f"wheels/{agent.name}")
            tar.add(str(images), arcname="images")
        return buffer.getvalue()


class SSHNodeInstaller:
    """Installs, starts and removes the node agent on one machine, step by step."""

    def __init__(self, host: SSHHost, say: Say = lambda _: None) -> None:
        self.host = host
        self._say = say

    def _step(self, what: str) -> None:
        self._say(f"{self.host.target.host}: {what}")

    def install(self, joining: Joining, payload: bytes) -> None:
        """All of it, or (on a failure) none of it: a failed step undoes what was done."""
        self._step("checking the machine")
        facts = host_facts(self.host)
        try:
            self._install(joining, payload, facts)
        except Exception:
            self._step("undoing the partial install")
            self.uninstall()
            raise

    def _install(self, joining: Joining, payload: bytes, facts: dict[str, object]) -> None:
        run = self.host.run
        # One query for all of them (a package dpkg does not know is not listed).
        query = f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {' '.join(PACKAGES)} 2>/dev/null"
        installed = {
            line.split()[0]
            for line in run(query, check=False).stdout.splitlines()
            if line.endswith("install ok installed")
        }
        missing = [p for p in PACKAGES if p not in installed]
        run(f"mkdir -p {CONFIG}/pki {CONFIG}/cni {ROOT} /var/log/ku7s /run/ku7s")
        run(
            f": > {CREATED_LIST}; for p in {' '.join(SHARED_PATHS)}; do "
            f'[ -e "$p" ] || echo "$p" >> {CREATED_LIST}; done'
        )
        if missing:
            if not facts["has_apt"]:
                raise SSHError(
                    f"{self.host.target.host} has no apt-get; install these first: "
                    + " ".join(missing)
                )
            self._step(f"installing {' '.join(missing)}")
            run(f"printf '%s\\n' {' '.join(missing)} > {INSTALLED_LIST}")
            run(
                "DEBIAN_FRONTEND=noninteractive apt-get update -qq && "
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                f"--no-install-recommends {' '.join(missing)}"
            )
        python = run("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'").stdout
        if python.strip() != "3.11":
            raise SSHError(
                f"{self.host.target.host} has Python {python.strip()}; the node agent's wheels "
                "are built for Python 3.11 (Debian 12's)"
            )
        self._step("copying the node agent")
        self.host.put(payload, f"{ROOT}/agent.tar", mode=0o600)
        run(
            f"tar -C {ROOT} -xf {ROOT}/agent.tar && rm -f {ROOT}/agent.tar && "
            f"python3 -m venv {ROOT}/venv && {ROOT}/venv/bin/pip install --quiet --no-index "
            f"--disable-pip-version-check --find-links {ROOT}/wheels --no-deps {ROOT}/wheels/*.whl"
        )
        run(
            f"rm -rf /var/lib/ku7s/images && mkdir -p /var/lib/ku7s && "
            f"mv {ROOT}/images /var/lib/ku7s/"
        )
        self._step("writing the configuration")
        node_ip = (
            run(f"ip -o route get {shlex.quote(joining.control_plane_address)}", as_root=False)
            .stdout.split(" src ")[1]
            .split()[0]
        )
        self.host.put(joining.ca_pem, f"{CONFIG}/pki/ca.crt")
        self.host.put(containerd_config().encode(), f"{CONFIG}/containerd.toml")
        self.host.put(joining.environment(node_ip).encode(), ENV_FILE, mode=0o600)
        run(hosts_command(f"{joining.control_plane_address} {joining.control_plane}"))
        self._step("starting containerd, the kubelet and kube-proxy")
        if facts["has_systemd"]:
            self.host.put(unit_file().encode(), UNIT)
            run("systemctl daemon-reload && systemctl enable --now ku7s-node.service")
        else:
            run(
                f"set -a; . {ENV_FILE}; set +a; cd /; setsid {ROOT}/venv/bin/python -m node_image "
                f"</dev/null >>/var/log/ku7s/node.log 2>&1 & echo $! > {PID_FILE}"
            )

    def uninstall(self) -> None:
        """Stop the agent and its pods, and remove everything ku7s put on the machine."""
        run = self.host.run
        self._step("stopping the node agent and its pods")
        ctr = f"ctr -a {CONTAINERD_SOCKET} -n k8s.io"
        run(
            # The kubelet is frozen first, so it starts nothing new while the pods go.
            "kill -STOP $(cat /run/ku7s/kubelet.pid 2>/dev/null) 2>/dev/null; "
            f"for t in $({ctr} tasks ls -q 2>/dev/null); do {ctr} tasks kill -s SIGKILL $t; done; "
            "sleep 1; true",
            check=False,
        )
        run(
            f"if [ -f {UNIT} ]; then systemctl disable --now ku7s-node.service; rm -f {UNIT}; "
            "systemctl daemon-reload; fi; "
            f"if [ -f {PID_FILE} ]; then kill $(cat {PID_FILE}) 2>/dev/null; "
            f"for i in $(seq 1 100); do kill -0 $(cat {PID_FILE}) 2>/dev/null || break; "
            "sleep 0.1; done; fi; true",
            check=False,
        )
        self._step("removing pods, rules and files")
        run(
            # Pods' processes, whose shims outlive containerd (the brackets keep pkill off
            # this shell's own command line); then what they mounted.
            "pkill -9 -f '[c]ontainerd-shim-runc-v2 .*-address /run/ku7s/'; sleep 0.5; "
            f"for m in $(awk '{{print $2}}' /proc/mounts | grep -E '{OWN_MOUNTS}' | sort -r); "
            'do umount -l "$m"; done; true',
            check=False,
        )
        run(
            # The pod network: CNI's bridge and NAT chains (kube-proxy removed its own),
            # the kubelet's masquerade rule, the routes to other nodes' pods (protocol 77).
            "ip link delete cni0 2>/dev/null; ip route flush proto 77 2>/dev/null; "
            "iptables -t nat -S POSTROUTING | grep -- '--comment \"ku7s: ' | sed 's/^-A/-D/' | "
            "xargs -r -L1 iptables -t nat; "
            "for c in $(iptables -t nat -S | awk '/^-N CNI-/ {print $2}'); do "
            "iptables -t nat -S POSTROUTING | grep -- \"-j $c\" | sed 's/^-A/-D/' | "
            "xargs -r -L1 iptables -t nat; iptables -t nat -F $c; iptables -t nat -X $c; done; "
            f"rm -rf /var/lib/cni/networks/{CNI_NETWORK} /var/lib/cni/results/{CNI_NETWORK}-*; "
            f"{hosts_command()}; true",
            check=False,
        )
        created = run(f"cat {CREATED_LIST} 2>/dev/null", check=False).stdout.split()
        packages = run(f"cat {INSTALLED_LIST} 2>/dev/null", check=False).stdout.split()
        if packages:
            self._step(f"removing {' '.join(packages)}")
            run(
                "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "
                f"{' '.join(packages)} && apt-get autoremove -y -qq",
                check=False,
            )
        run(f"rm -rf {' '.join([*created, *STATE_DIRS])}", check=False)


@dataclass(frozen=True)
class SSHAccess:
    """How to reach and trust a machine, as given on the command line."""

    host: str
    identity: Path | None = None
    known_hosts: Path | None = None
    fingerprint: str | None = None

    def machine(self, default_user: str = "root") -> SSHHost:
        """The machine, not yet connected: ``with access.machine() as host:`` connects."""
        return SSHHost(
            SSHTarget.parse(self.host, default_user),
            identity=self.identity,
            known_hosts=self.known_hosts,
            pinned_fingerprint=self.fingerprint,
        )


def _node_name(host: SSHHost, cluster: str, wanted: str) -> str:
    if wanted:
        return validate_node_name(wanted)
    short = host.run("hostname -s", as_root=False).stdout.strip().lower()
    cleaned = re.sub(r"[^a-z0-9-]+", "-", short).strip("-") or "machine"
    named = cleaned if cleaned.startswith(f"{cluster}-") else f"{cluster}-{cleaned}"
    return validate_node_name(named[:63].rstrip("-"))


def add_ssh_node(
    provider: DockerProvider,
    cluster: str,
    access: SSHAccess,
    *,
    node_name: str = "",
    labels: dict[str, str] | None = None,
    control_plane_address: str = "",
    wait: float = 120.0,
    say: Say = lambda _: None,
) -> str:
    """Make the machine a Ready worker of the cluster; return its node name."""
    control_plane = control_plane_name(cluster)
    if not provider.container_exists(control_plane):
        raise NotFoundError(f'no cluster named "{cluster}"')
    config = admin_kubeconfig(provider, cluster)
    # Given, or published for machines elsewhere (networking.nodeServiceAddress), or the
    # control plane's address on the cluster's network.
    address = (
        control_plane_address
        or provider.container_env(control_plane).get(NODE_SERVICE_ADDRESS_ENV, "")
        or provider.address_on(control_plane, network_name(cluster))
    )
    with access.machine() as host:
        name = _node_name(host, cluster, node_name)
        containers = {n.name for n in provider.list_nodes(cluster)}
        if name in containers or asyncio.run(_node_exists(config, name)):
            raise UserInputError(f'cluster "{cluster}" already has a node named "{name}"')
        joining = Joining(
            cluster,
            name,
            control_plane,
            address,
            provider.read_file(control_plane, TOKENS_PATH).decode().split()[0],
            provider.read_file(control_plane, f"{PKI_DIR}/ca.crt"),
            dict(labels or {}),
        )
        say("packing the node agent")
        payload = bundle(ImageBuilder(provider.client, say=say))
        installer = SSHNodeInstaller(host, say)
        installer.install(joining, payload)
        try:
            asyncio.run(_joined(config, name, str(host.target), wait))
        except Exception:
            log = host.run("tail -n 20 /var/log/ku7s/kubelet.log", check=False).output
            say(f"{host.target.host}: the node did not become Ready; undoing the install")
            installer.uninstall()
            forget_node(config, name)
            raise SSHError(f"{name} on {host.target.host} did not become Ready:\n{log}") from None
    return name


async def _node_exists(config: dict[str, Any], name: str) -> bool:
    async with APIClient.from_kubeconfig(config) as client:
        try:
            await client.get(f"/api/v1/nodes/{name}")
        except APIStatusError as e:
            if e.code == 404:
                return False
            raise
        return True


async def _joined(config: dict[str, Any], name: str, target: str, wait: float) -> None:
    async with APIClient.from_kubeconfig(config) as client:
        await wait_for_nodes(client, {name}, wait)
        patch = {"metadata": {"annotations": {HOST_ANNOTATION: target}}}
        await client.patch(f"/api/v1/nodes/{name}", patch)


def ssh_nodes(provider: DockerProvider, cluster: str) -> dict[str, str]:
    """The cluster's machines joined over SSH: node name -> where it is reached."""
    config = admin_kubeconfig(provider, cluster)

    async def listing() -> dict[str, str]:
        async with APIClient.from_kubeconfig(config) as client:
            found = await client.get("/api/v1/nodes", {"labelSelector": f"{PROVIDER_LABEL}=ssh"})
        return {
            meta.name_of(n): meta.annotations_of(n).get(HOST_ANNOTATION, "")
            for n in found.get("items", [])
        }

    return asyncio.run(listing())


def delete_ssh_node(
    provider: DockerProvider,
    cluster: str,
    name: str,
    access: SSHAccess | None = None,
    say: Say = lambda _: None,
) -> None:
    """Take the agent and what it installed off the machine, then forget the Node."""
    try:
        machines = ssh_nodes(provider, cluster)
    except NotFoundError:
        raise NotFoundError(
            f'no node named "{name}": no such container, and no cluster "{cluster}" to look in'
        ) from None
    if name not in machines:
        raise NotFoundError(f'no node named "{name}" in cluster "{cluster}"')
    # Reached where it joined from, unless told otherwise.
    access = access or SSHAccess("")
    if not access.host:
        access = dataclasses.replace(access, host=machines[name])
    with access.machine() as host:
        SSHNodeInstaller(host, say).uninstall()
    forget_node(admin_kubeconfig(provider, cluster), name)
