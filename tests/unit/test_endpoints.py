"""The Endpoints and EndpointSlice controllers: which pods back a Service, on which ports,
and what is written for them."""

from __future__ import annotations

import itertools

from control_plane.controllers.endpoints import EndpointsController
from control_plane.controllers.endpointslice import EndpointSliceController

NOW = "2026-11-28T12:00:00Z"


class RecordingAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self._ids = itertools.count(1)

    async def create(self, path, body):
        self.calls.append(("create", path, body))
        metadata = dict(body["metadata"])
        metadata.setdefault("name", f"{metadata.get('generateName', 'x-')}{next(self._ids)}")
        metadata["namespace"] = path.split("/namespaces/")[1].split("/")[0]
        metadata["resourceVersion"] = str(100 + next(self._ids))
        return {**body, "metadata": metadata}

    async def replace(self, path, body):
        self.calls.append(("replace", path, body))
        return {**body, "metadata": {**body["metadata"], "resourceVersion": "999"}}

    async def delete(self, path, params=None):
        self.calls.append(("delete", path, {}))
        return {}

    def made(self, verb: str) -> list:
        return [c for c in self.calls if c[0] == verb]


def service(name="web", **spec):
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"svc-{name}"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            **spec,
        },
    }


def pod(name, ip, ready=True, port=8080, labels=None, **metadata):
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels or {"app": "web"},
            "resourceVersion": "1",
            **metadata,
        },
        "spec": {
            "nodeName": "worker",
            "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": port}]}],
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def feed(informer, *objects):
    for obj in objects:
        informer._apply("ADDED", obj)


async def test_endpoints_list_ready_and_unready_pods_on_their_named_ports():
    api = RecordingAPI()
    controller = EndpointsController(api)  # type: ignore[arg-type]
    feed(controller.watch.services, service())
    feed(
        controller.watch.pods,
        pod("b", "10.244.1.10"),
        pod("a", "10.244.1.9", ready=False),
        pod("gone", "10.244.1.11", deletionTimestamp=NOW),
        pod("other", "10.244.1.12", labels={"app": "db"}),
        pod("old-port", "10.244.1.13", port=9090),
    )
    await controller.reconcile("default/web")
    [(_, path, body)] = api.made("create")
    assert path == "/api/v1/namespaces/default/endpoints"
    first, second = body["subsets"]
    assert [a["ip"] for a in first["addresses"]] == ["10.244.1.10"]
    assert [a["ip"] for a in first["notReadyAddresses"]] == ["10.244.1.9"]
    assert first["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert first["addresses"][0]["targetRef"]["name"] == "b"
    assert [a["ip"] for a in second["addresses"]] == ["10.244.1.13"]
    assert second["ports"][0]["port"] == 9090


async def test_endpoints_follow_a_pod_that_loses_its_label_and_a_deleted_service():
    api = RecordingAPI()
    controller = EndpointsController(api)  # type: ignore[arg-type]
    feed(controller.watch.services, service())
    feed(controller.watch.pods, pod("a", "10.244.1.9"))
    while len(controller.queue):
        controller.queue.done(await controller.queue.get())
    relabelled = pod("a", "10.244.1.9", labels={"app": "other"})
    controller.watch.pods._apply("MODIFIED", relabelled)
    assert len(controller.queue) == 1  # the Service it no longer backs
    feed(
        controller.endpoints,
        {"metadata": {"name": "web", "namespace": "default"}, "subsets": [{"addresses": []}]},
    )
    await controller.reconcile("default/web")
    [(_, _, body)] = api.made("replace")
    assert body["subsets"] == []
    controller.watch.services._apply("DELETED", service())
    await controller.reconcile("default/web")
    assert api.made("delete")[0][1] == "/api/v1/namespaces/default/endpoints/web"


async def test_services_without_selector_keep_their_own_endpoints():
    api = RecordingAPI()
    controller = EndpointsController(api)  # type: ignore[arg-type]
    feed(controller.watch.services, service(selector=None))
    feed(controller.watch.pods, pod("a", "10.244.1.9"))
    await controller.reconcile("default/web")
    assert api.calls == []


async def test_slices_mark_terminating_pods_and_are_not_made_twice():
    api = RecordingAPI()
    controller = EndpointSliceController(api)  # type: ignore[arg-type]
    feed(controller.watch.services, service())
    feed(
        controller.watch.pods,
        pod("a", "10.244.1.9"),
        pod("b", "10.244.1.10", deletionTimestamp=NOW),
    )
    await controller.reconcile("default/web")
    [(_, path, body)] = api.made("create")
    assert path == "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "svc-web"
    assert body["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    conditions = [e["conditions"] for e in body["endpoints"]]
    assert conditions == [
        {"ready": True, "serving": True, "terminating": False},
        {"ready": False, "serving": True, "terminating": True},
    ]
    await controller.reconcile("default/web")  # before the informer saw the new slice
    assert len(api.made("create")) == 1 and not api.made("replace")


async def test_a_service_without_backends_keeps_one_empty_slice_and_large_ones_split():
    api = RecordingAPI()
    controller = EndpointSliceController(api)  # type: ignore[arg-type]
    feed(controller.watch.services, service())
    await controller.reconcile("default/web")
    [(_, _, empty)] = api.made("create")
    assert empty["endpoints"] == [] and empty["ports"] == [{"name": "http", "protocol": "TCP"}]
    feed(
        controller.watch.pods,
        *(pod(f"p{i}", f"10.244.{i // 200}.{i % 200 + 2}") for i in range(150)),
    )
    await controller.reconcile("default/web")
    [(_, _, updated)] = api.made("replace")
    [_, (_, _, second)] = api.made("create")
    assert len(updated["endpoints"]) == 100 and len(second["endpoints"]) == 50
