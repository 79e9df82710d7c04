"""The cluster config file (``kind: Cluster``, ``apiVersion: ku7s.dev/v1alpha1``).

    kind: Cluster
    apiVersion: ku7s.dev/v1alpha1
    name: dev
    networking:
      podSubnet: 10.244.0.0/16
      serviceSubnet: 10.96.0.0/16
      apiServerPort: 0            # host port of the API server; 0 picks a free one
      nodeServiceAddress: ""      # a host address to publish the API and node service on
                                  # (6443-6445), for machines joined over SSH from elsewhere
    nodes:
    - role: control-plane
    - role: worker
      labels: {tier: frontend}
      taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
      resources: {cpu: "1", memory: 512Mi}   # Docker limits, reported as node capacity
      extraPortMappings:          # publish a node port on the host, as kind does
      - {containerPort: 30080, hostPort: 8080, listenAddress: 127.0.0.1, protocol: TCP}
    nodeLifecycle:
      gracePeriodSeconds: 5       # a node silent this long is NotReady (upstream: 50)
      podEvictionSeconds: 10      # then its pods are evicted after this (upstream: 300)
    cloud:
      region: local               # topology.kubernetes.io/region of every node
      zones: 3                    # nodes are spread over local-a, local-b, local-c
    serviceAccountTokens:
      maxExpirationSeconds: 30    # no token lives longer (upstream: none; >= 1 hour there),
                                  # so a test sees the kubelet renew pods' tokens

Every field is checked; an unknown field, a wrong type or an impossible value raises
ConfigError naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ku7s.api.quantity import QuantityError, parse_quantity
from ku7s.errors import ConfigError, UserInputError
from ku7s.names import CONTROL_PLANE, WORKER, validate_cluster_name

API_VERSION = "ku7s.dev/v1alpha1"
KIND = "Cluster"
DEFAULT_NAME = "ku7s"
DEFAULT_POD_SUBNET = "10.244.0.0/16"
DEFAULT_SERVICE_SUBNET = "10.96.0.0/16"
NODE_CIDR_MASK = 24
MIN_NODE_MEMORY = 128 * 2**20
#: The shortest token life the config accepts: the kubelet renews at 80 % of it, and its
#: checks and a client's re-reads need a few seconds of that.
MIN_TOKEN_EXPIRATION_SECONDS = 10
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        return (
            f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"
        )


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int
    listen_address: str = "0.0.0.0"
    protocol: str = "TCP"


@dataclass(frozen=True)
class NodeConfig:
    role: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    cpu: str | None = None
    memory: str | None = None
    port_mappings: tuple[PortMapping, ...] = ()

    @property
    def nano_cpus(self) -> int | None:
        return int(parse_quantity(self.cpu) * 10**9) if self.cpu else None

    @property
    def memory_bytes(self) -> int | None:
        return int(parse_quantity(self.memory)) if self.memory else None


#: What a hollow node's capacity may name.
HOLLOW_CAPACITY = ("cpu", "memory", "pods", "ephemeral-storage")


@dataclass(frozen=True)
class HollowGroup:
    """Hollow nodes alike (config ``hollowNodes``, ``ku7s create node --hollow``)."""

    count: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    #: ``cpu=32,memory=256Gi,pods=110`` (what is not given keeps those defaults).
    capacity: str = ""
    untainted: bool = False


@dataclass(frozen=True)
class ClusterConfig:
    name: str = DEFAULT_NAME
    pod_subnet: str = DEFAULT_POD_SUBNET
    service_subnet: str = DEFAULT_SERVICE_SUBNET
    api_server_port: int = 0
    #: A host address the control plane's API (6443) and node service (6444, 6445) are
    #: published on, so machines outside the cluster's network can join; "" for none.
    node_service_address: str = ""
    nodes: tuple[NodeConfig, ...] = (NodeConfig(CONTROL_PLANE), NodeConfig(WORKER))
    node_grace_seconds: int = 5
    pod_eviction_seconds: int = 10
    region: str = "local"
    zones: int = 1
    #: Caps every service account token's life (--service-account-max-token-expiration).
    max_token_expiration_seconds: int | None = None
    hollow_nodes: tuple[HollowGroup, ...] = ()

    @property
    def workers(self) -> tuple[NodeConfig, ...]:
        return tuple(n for n in self.nodes if n.role == WORKER)

    def with_name(self, name: str) -> ClusterConfig:
        return replace(self, name=validate_cluster_name(name))

    def with_workers(self, count: int) -> ClusterConfig:
        if count < 0:
            raise ConfigError(f"--workers must be 0 or more, not {count}")
        return replace(
            self,
            nodes=(NodeConfig(CONTROL_PLANE), *tuple(NodeConfig(WORKER) for _ in range(count))),
        )


# -- parsing -------------------------------------------------------------------------------


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {what}, got {type(value).__name__} {value!r}")
    return value


def _check_fields(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f'unknown field "{prefix}{unknown[0]}" (known fields: {", ".join(sorted(allowed))})'
        )


def validate_label(key: str, value: str, where: str) -> None:
    prefix, _, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (
        prefix and (len(prefix) > 253 or not _LABEL_PREFIX.match(prefix))
    ):
        raise ConfigError(f"{where}: invalid label key {key!r}")
    if not _LABEL_VALUE.match(value):
        raise ConfigError(f"{where}: invalid value {value!r} for label {key!r}")


def parse_labels_flag(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` as given to --labels."""
    labels: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--labels: expected key=value, got {item!r}")
        validate_label(key.strip(), value.strip(), "--labels")
        labels[key.strip()] = value.strip()
    return labels


def _parse_taint(raw: Any, where: str) -> Taint:
    if isinstance(raw, str):
        key_value, sep, effect = raw.rpartition(":")
        if not sep:
            raise ConfigError(f"{where}: expected key=value:Effect, got {raw!r}")
        key, _, value = key_value.partition("=")
        raw = {"key": key, "value": value, "effect": effect}
    _expect(raw, dict, where, "a taint (key, value, effect)")
    _check_fields(raw, {"key", "value", "effect"}, where)
    key = str(raw.get("key", ""))
    value = str(raw.get("value", "") or "")
    effect = str(raw.get("effect", ""))
    validate_label(key, value, where)
    if effect not in TAINT_EFFECTS:
        raise ConfigError(
            f"{where}.effect: must be one of {', '.join(TAINT_EFFECTS)}, not {effect!r}"
        )
    return Taint(key, value, effect)


def _parse_quantity(raw: Any, where: str) -> tuple[str, Decimal]:
    text = str(_expect(raw, (str, int, float), where, "a quantity such as 2, 500m or 1Gi"))
    try:
        value = parse_quantity(text)
    except QuantityError as e:
        raise ConfigError(f"{where}: {e}") from None
    if value <= 0:
        raise ConfigError(f"{where}: must be greater than zero, not {text!r}")
    return text, value


def _parse_labels(raw: Any, where: str) -> dict[str, str]:
    labels = {}
    for key, value in _expect(raw or {}, dict, where, "a map of labels").items():
        value = "" if value is None else str(value)
        validate_label(str(key), value, where)
        labels[str(key)] = value
    return labels


def _parse_hollow(raw: Any, index: int) -> HollowGroup:
    where = f"hollowNodes[{index}]"
    _expect(raw, dict, where, "a group of hollow nodes (count, labels, capacity, untainted)")
    _check_fields(raw, {"count", "labels", "capacity", "untainted"}, where)
    count = _expect(raw.get("count", 1), int, f"{where}.count", "a number")
    if count < 1:
        raise ConfigError(f"{where}.count: must be at least 1, not {count}")
    labels = _parse_labels(raw.get("labels"), f"{where}.labels")
    capacity_raw = _expect(
        raw.get("capacity") or {}, dict, f"{where}.capacity", "a map such as {cpu: 32}"
    )
    _check_fields(capacity_raw, set(HOLLOW_CAPACITY), f"{where}.capacity")
    for key, value in capacity_raw.items():
        _parse_quantity(value, f"{where}.capacity.{key}")
    capacity = ",".join(f"{k}={v}" for k, v in capacity_raw.items())
    untainted = _expect(raw.get("untainted", False), bool, f"{where}.untainted", "true or false")
    return HollowGroup(count, labels, capacity, untainted)


def _parse_node(raw: Any, index: int) -> NodeConfig:
    where = f"nodes[{index}]"
    _expect(raw, dict, where, "a node (role, labels, taints, resources)")
    _check_fields(raw, {"role", "labels", "taints", "resources", "extraPortMappings"}, where)
    role = raw.get("role", WORKER)
    if role not in (CONTROL_PLANE, WORKER):
        raise ConfigError(f"{where}.role: must be control-plane or worker, not {role!r}")
    labels = _parse_labels(raw.get("labels"), f"{where}.labels")
    taints_raw = _expect(raw.get("taints") or [], list, f"{where}.taints", "a list of taints")
    taints = tuple(_parse_taint(t, f"{where}.taints[{i}]") for i, t in enumerate(taints_raw))
    resources = _expect(
        raw.get("resources") or {}, dict, f"{where}.resources", "a map with cpu and memory"
    )
    _check_fields(resources, {"cpu", "memory"}, f"{where}.resources")
    cpu = memory = None
    if "cpu" in resources:
        cpu, _ = _parse_quantity(resources["cpu"], f"{where}.resources.cpu")
    if "memory" in resources:
        memory, amount = _parse_quantity(resources["memory"], f"{where}.resources.memory")
        if amount < MIN_NODE_MEMORY:
            raise ConfigError(
                f"{where}.resources.memory: a node needs at least 128Mi, not {memory}"
            )
    if role == CONTROL_PLANE and (labels or taints or raw.get("extraPortMappings")):
        raise ConfigError(
            f"{where}: the control plane is not a Node; labels, taints and "
            "extraPortMappings belong on workers"
        )
    mappings_raw = _expect(
        raw.get("extraPortMappings") or [], list, f"{where}.extraPortMappings", "a list"
    )
    mappings = tuple(
        _parse_port_mapping(m, f"{where}.extraPortMappings[{i}]")
        for i, m in enumerate(mappings_raw)
    )
    return NodeConfig(role, labels, taints, cpu, memory, mappings)


def _parse_port_mapping(raw: Any, where: str) -> PortMapping:
    _expect(raw, dict, where, "a port mapping (containerPort, hostPort, ...)")
    _check_fields(raw, {"containerPort", "hostPort", "listenAddress", "protocol"}, where)
    ports = []
    for key in ("containerPort", "hostPort"):
        port = _expect(raw.get(key), int, f"{where}.{key}", "a port number")
        if not 1 <= port <= 65535:
            raise ConfigError(f"{where}.{key}: must be 1 to 65535, not {port}")
        ports.append(port)
    address = str(_expect(raw.get("listenAddress", "0.0.0.0"), str, where, "an IP address"))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"{where}.listenAddress: not an IP address: {address!r}") from None
    protocol = str(raw.get("protocol", "TCP")).upper()
    if protocol not in ("TCP", "UDP"):
        raise ConfigError(f"{where}.protocol: must be TCP or UDP, not {raw.get('protocol')!r}")
    return PortMapping(ports[0], ports[1], address, protocol)


def _parse_cidr(raw: Any, where: str, min_prefix: int, max_prefix: int) -> str:
    text = _expect(raw, str, where, "an IPv4 CIDR such as 10.244.0.0/16")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    if network.version != 4:
        raise ConfigError(f"{where}: only IPv4 is supported, not {text!r}")
    if not min_prefix <= network.prefixlen <= max_prefix:
        raise ConfigError(
            f"{where}: the prefix length must be between /{min_prefix} and /{max_prefix}, "
            f"not /{network.prefixlen}"
        )
    return str(network)


def parse_config(data: Any, source: str = "config") -> ClusterConfig:
    if data is None:
        data = {}
    _expect(data, dict, source, "a mapping with kind: Cluster")
    _check_fields(
        data,
        {
            "kind", "apiVersion", "name", "networking", "nodes", "nodeLifecycle", "cloud",
            "serviceAccountTokens", "hollowNodes",
        },
        "",
    )  # fmt: skip
    if data.get("kind") != KIND:
        raise ConfigError(f'kind: must be "{KIND}", not {data.get("kind")!r}')
    if data.get("apiVersion") != API_VERSION:
        raise ConfigError(f'apiVersion: must be "{API_VERSION}", not {data.get("apiVersion")!r}')
    config = ClusterConfig()
    if "name" in data:
        try:
            config = config.with_name(str(_expect(data["name"], str, "name", "a cluster name")))
        except UserInputError as e:
            raise ConfigError(f"name: {e}") from None
    net = _expect(data.get("networking") or {}, dict, "networking", "a mapping")
    _check_fields(
        net, {"podSubnet", "serviceSubnet", "apiServerPort", "nodeServiceAddress"}, "networking"
    )
    node_service = str(
        _expect(
            net.get("nodeServiceAddress", ""), str, "networking.nodeServiceAddress", "an address"
        )
    )
    if node_service:
        try:
            ipaddress.ip_address(node_service)
        except ValueError:
            raise ConfigError(
                f"networking.nodeServiceAddress: must be an IP address of this host, "
                f"not {node_service!r}"
            ) from None
    pod = _parse_cidr(
        net.get("podSubnet", DEFAULT_POD_SUBNET), "networking.podSubnet", 8, NODE_CIDR_MASK
    )
    svc = _parse_cidr(
        net.get("serviceSubnet", DEFAULT_SERVICE_SUBNET), "networking.serviceSubnet", 12, 28
    )
    if ipaddress.ip_network(pod).overlaps(ipaddress.ip_network(svc)):
        raise ConfigError(f"networking: podSubnet {pod} overlaps serviceSubnet {svc}")
    port = _expect(net.get("apiServerPort", 0), int, "networking.apiServerPort", "a port number")
    if not 0 <= port <= 65535:
        raise ConfigError(f"networking.apiServerPort: must be 0 to 65535, not {port}")
    groups = _expect(data.get("hollowNodes") or [], list, "hollowNodes", "a list of groups")
    hollow = tuple(_parse_hollow(g, i) for i, g in enumerate(groups))
    nodes = config.nodes
    if "nodes" in data:
        raw_nodes = _expect(data["nodes"], list, "nodes", "a list of nodes")
        nodes = tuple(_parse_node(n, i) for i, n in enumerate(raw_nodes))
        control_planes = sum(1 for n in nodes if n.role == CONTROL_PLANE)
        if control_planes != 1:
            raise ConfigError(
                f"nodes: exactly one control-plane node is supported, found {control_planes}"
            )
        nodes = tuple(sorted(nodes, key=lambda n: n.role != CONTROL_PLANE))
    lifecycle = _expect(data.get("nodeLifecycle") or {}, dict, "nodeLifecycle", "a mapping")
    _check_fields(lifecycle, {"gracePeriodSeconds", "podEvictionSeconds"}, "nodeLifecycle")
    grace = _seconds(lifecycle, "nodeLifecycle", "gracePeriodSeconds", minimum=2,
                     default=config.node_grace_seconds)  # fmt: skip
    eviction = _seconds(lifecycle, "nodeLifecycle", "podEvictionSeconds", minimum=0,
                        default=config.pod_eviction_seconds)  # fmt: skip
    tokens = _expect(data.get("serviceAccountTokens") or {}, dict, "serviceAccountTokens",
                     "a mapping")  # fmt: skip
    _check_fields(tokens, {"maxExpirationSeconds"}, "serviceAccountTokens")
    max_token = None
    if "maxExpirationSeconds" in tokens:
        max_token = _seconds(tokens, "serviceAccountTokens", "maxExpirationSeconds",
                             minimum=MIN_TOKEN_EXPIRATION_SECONDS)  # fmt: skip
    cloud = _expect(data.get("cloud") or {}, dict, "cloud", "a mapping")
    _check_fields(cloud, {"region", "zones"}, "cloud")
    region = str(_expect(cloud.get("region", config.region), str, "cloud.region", "a name"))
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$", region):
        raise ConfigError(f"cloud.region: must be a short DNS label, not {region!r}")
    zones = _expect(cloud.get("zones", config.zones), int, "cloud.zones", "a number of zones")
    if not 1 <= zones <= 26:
        raise ConfigError(f"cloud.zones: must be 1 to 26, not {zones}")
    return replace(
        config,
        pod_subnet=pod,
        service_subnet=svc,
        api_server_port=port,
        node_service_address=node_service,
        nodes=nodes,
        node_grace_seconds=grace,
        pod_eviction_seconds=eviction,
        region=region,
        zones=zones,
        max_token_expiration_seconds=max_token,
        hollow_nodes=hollow,
    )


def _seconds(
    section: dict[str, Any], name: str, key: str, *, minimum: int, default: int = 0
) -> int:
    where = f"{name}.{key}"
    value = _expect(section.get(key, default), int, where, "a whole number of seconds")
    if isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where}: must be {minimum} or more, not {value}")
    return int(value)


def load_config(path: Path) -> ClusterConfig:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}".replace("\n", " ")) from None
    return parse_config(data, str(path))
