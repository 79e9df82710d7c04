"""Deleting a cluster leaves nothing, also when its control plane creates containers while it
is being deleted, or another delete of the same cluster runs at the same time."""

from __future__ import annotations

from dataclasses import dataclass, field

import docker.errors
import pytest

from ku7s.cluster.providers.docker_sweep import ClusterSweep, SweepError
from ku7s.names import CLUSTER_LABEL, CONTROL_PLANE, LOAD_BALANCER, ROLE_LABEL, WORKER


@dataclass
class FakeObject:
    engine: FakeEngine
    kind: str
    name: str
    labels: dict[str, str]
    id: str = ""
    attrs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = self.id or f"{self.kind}-{self.name}"
        self.attrs = {"Labels": self.labels, "Containers": {}}

    def remove(self, **_: object) -> None:
        self.engine.remove(self)

    def reload(self) -> None:
        attached = self.engine.attached.get(self.name, [])
        self.attrs["Containers"] = {n: {"Name": n} for n in attached}

    def disconnect(self, container: FakeObject, force: bool = False) -> None:
        self.engine.attached[self.name].remove(container.name)


class FakeCollection:
    def __init__(self, engine: FakeEngine, kind: str) -> None:
        self._engine = engine
        self._kind = kind

    def list(self, all: bool = False, filters=None, names=None):
        found = [o for o in self._engine.objects if o.kind == self._kind]
        if filters:
            key, _, value = filters["label"].partition("=")
            found = [o for o in found if o.labels.get(key) == value]
        if names:
            found = [o for o in found if any(n in o.name for n in names)]
        return found

    def get(self, name: str) -> FakeObject:
        for o in self._engine.objects:
            if o.kind == self._kind and o.name == name:
                return o
        raise docker.errors.NotFound(name)


class FakeLowLevelAPI:
    """The engine's listing and removal of containers, by id, as docker.APIClient has them."""

    def __init__(self, engine: FakeEngine) -> None:
        self._engine = engine

    def containers(self, all: bool = False, filters=None) -> list[dict]:
        found = self._engine.containers.list(all=all, filters=filters)
        listed = [{"Id": c.id, "Names": [f"/{c.name}"], "Labels": c.labels} for c in found]
        if self._engine.after_listing:
            self._engine.after_listing.pop(0)()
        return listed

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        for obj in self._engine.objects:
            if obj.kind == "container" and obj.id == container:
                self._engine.remove(obj)
                return
        raise docker.errors.NotFound(container)


class FakeEngine:
    """A Docker engine's containers, volumes and networks, and the rules its removals
    follow: a network with containers on it refuses (403)."""

    def __init__(self) -> None:
        self.objects: list[FakeObject] = []
        self.attached: dict[str, list[str]] = {}
        self.removed: list[str] = []
        self.on_remove: dict[str, object] = {}  # name -> callable run when it is removed
        self.busy: dict[str, int] = {}  # name -> how many more removals get 409
        self.containers = FakeCollection(self, "container")
        self.volumes = FakeCollection(self, "volume")
        self.networks = FakeCollection(self, "network")
        self.api = FakeLowLevelAPI(self)
        self.after_listing: list = []  # what happens right after a listing, one per listing

    def add(self, kind: str, name: str, cluster: str = "dev", role: str = WORKER, network=""):
        labels = {CLUSTER_LABEL: cluster, ROLE_LABEL: role} if cluster else {}
        self.objects.append(FakeObject(self, kind, name, labels))
        if network:
            self.attached.setdefault(network, []).append(name)

    def remove(self, obj: FakeObject) -> None:
        if obj not in self.objects:
            raise docker.errors.NotFound(obj.name)
        if self.busy.get(obj.name):
            self.busy[obj.name] -= 1
            raise docker.errors.APIError("409", response=_Response(409))
        if obj.kind == "network" and self.attached.get(obj.name):
            raise docker.errors.APIError("403", response=_Response(403))
        self.objects.remove(obj)
        self.removed.append(obj.name)
        for members in self.attached.values():
            if obj.name in members:
                members.remove(obj.name)
        if hook := self.on_remove.pop(obj.name, None):
            hook()


@dataclass
class _Response:
    status_code: int
    reason: str = ""
    url: str = ""

    def json(self):
        return {"message": "refused"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def a_cluster(engine: FakeEngine) -> None:
    engine.add("network", "ku7s-dev", role="")
    engine.add("container", "dev-worker", network="ku7s-dev")
    engine.add("container", "dev-control-plane", role=CONTROL_PLANE, network="ku7s-dev")
    engine.add("container", "dev-lb-1", role=LOAD_BALANCER, network="ku7s-dev")
    engine.add("volume", "dev-worker-containerd")
    engine.add("volume", "dev-control-plane-etcd", role=CONTROL_PLANE)


def sweep(engine: FakeEngine, clock: Clock | None = None) -> ClusterSweep:
    clock = clock or Clock()
    return ClusterSweep(engine, "dev", "ku7s-dev", clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def test_the_control_plane_goes_first_and_everything_labelled_goes():
    engine = FakeEngine()
    a_cluster(engine)
    engine.add("container", "other-worker", cluster="other")
    result = sweep(engine).run()
    assert engine.removed[0] == "dev-control-plane"
    assert [o.name for o in engine.objects] == ["other-worker"]
    assert sorted(result.containers) == ["dev-control-plane", "dev-lb-1", "dev-worker"]
    assert result.networks == ["ku7s-dev"] and len(result.volumes) == 2


def test_a_load_balancer_created_while_deleting_is_removed_too():
    """The mock cloud's last act: a load balancer that appears after the first listing, on
    the network, which then refuses to go until it is removed as well."""
    engine = FakeEngine()
    a_cluster(engine)
    engine.on_remove["dev-worker"] = lambda: engine.add(
        "container", "dev-lb-2", role=LOAD_BALANCER, network="ku7s-dev"
    )
    sweep(engine).run()
    assert engine.objects == []
    assert engine.removed.index("dev-lb-2") < engine.removed.index("ku7s-dev")


def test_what_another_delete_is_removing_is_waited_for():
    engine = FakeEngine()
    a_cluster(engine)
    engine.busy["dev-worker"] = 3  # "removal of container dev-worker is already in progress"
    clock = Clock()
    sweep(engine, clock).run()
    assert engine.objects == [] and clock.now > 0


def test_what_another_delete_removed_after_the_listing_counts_as_gone():
    engine = FakeEngine()
    a_cluster(engine)
    worker = next(o for o in engine.objects if o.name == "dev-worker")
    engine.after_listing.append(lambda: engine.remove(worker))
    result = sweep(engine).run()
    assert engine.objects == [] and "dev-worker" in result.containers


def test_a_users_container_on_the_network_is_disconnected_not_removed():
    engine = FakeEngine()
    a_cluster(engine)
    engine.add("container", "my-debugger", cluster="", network="ku7s-dev")
    sweep(engine).run()
    assert [o.name for o in engine.objects] == ["my-debugger"]


def test_nothing_there_is_nothing_removed():
    assert not sweep(FakeEngine()).run()


def test_what_will_not_go_is_named_after_the_timeout():
    engine = FakeEngine()
    a_cluster(engine)
    engine.busy["dev-worker"] = 10**6
    left = "container dev-worker, network ku7s-dev could not be removed in 5s"
    with pytest.raises(SweepError, match=left):
        sweep(engine).run(timeout=5)
