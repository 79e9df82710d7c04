"""The official Python client: typed CRUD, list and watch, the dynamic client, and
create_from_yaml on a multi-kind file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, config, dynamic, utils, watch
from kubernetes.client.rest import ApiException

from tests.e2e.conftest import Cluster, unique

MANIFEST = Path(__file__).parent / "manifests" / "app.yaml"


@pytest.fixture
def api(cluster: Cluster):
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(api):
    name = unique("py")
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def test_typed_crud_on_every_kind(api, namespace):
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    meta = client.V1ObjectMeta(name="x", labels={"app": "x"})
    selector = client.V1LabelSelector(match_labels={"app": "x"})
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app": "x"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
    )
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=meta, data={"a": "1"}))
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=meta, string_data={"p": "w"}))
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=meta,
            spec=client.V1ServiceSpec(selector={"app": "x"}, ports=[client.V1ServicePort(port=80)]),
        ),
    )
    core.create_namespaced_pod(namespace, client.V1Pod(metadata=meta, spec=template.spec))
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=meta, spec=client.V1DeploymentSpec(selector=selector, template=template)
        ),
    )
    apps.create_namespaced_replica_set(
        namespace,
        client.V1ReplicaSet(
            metadata=meta, spec=client.V1ReplicaSetSpec(selector=selector, template=template)
        ),
    )
    apps.create_namespaced_daemon_set(
        namespace,
        client.V1DaemonSet(
            metadata=meta, spec=client.V1DaemonSetSpec(selector=selector, template=template)
        ),
    )
    apps.create_namespaced_stateful_set(
        namespace,
        client.V1StatefulSet(
            metadata=meta,
            spec=client.V1StatefulSetSpec(selector=selector, template=template, service_name="x"),
        ),
    )
    job_template = client.V1PodTemplateSpec(
        spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="c", image="busybox")]
        )
    )
    batch.create_namespaced_job(
        namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="x"), spec=client.V1JobSpec(template=job_template)
        ),
    )

    assert core.read_namespaced_config_map("x", namespace).data == {"a": "1"}
    assert core.read_namespaced_secret("x", namespace).data == {"p": "dw=="}
    assert core.read_namespaced_service("x", namespace).spec.cluster_ip.startswith("10.96.")
    assert core.read_namespaced_pod("x", namespace).status.phase in ("Pending", "Running")
    deployment = apps.read_namespaced_deployment("x", namespace)
    assert deployment.spec.replicas == 1 and deployment.metadata.generation == 1
    for _ in range(10):  # the deployment controller writes too: read again on a conflict
        deployment = apps.read_namespaced_deployment("x", namespace)
        deployment.spec.replicas = 3
        try:
            replaced = apps.replace_namespaced_deployment("x", namespace, deployment)
            break
        except ApiException as e:
            assert e.status == 409, e
    assert replaced.spec.replicas == 3
    apps.patch_namespaced_deployment_scale("x", namespace, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment_scale("x", namespace).spec.replicas == 5
    apps.patch_namespaced_stateful_set("x", namespace, {"metadata": {"labels": {"p": "q"}}})
    assert apps.read_namespaced_stateful_set("x", namespace).metadata.labels["p"] == "q"
    assert batch.read_namespaced_job("x", namespace).spec.selector.match_labels
    assert [d.metadata.name for d in apps.list_namespaced_daemon_set(namespace).items] == ["x"]
    assert apps.list_namespaced_replica_set(namespace, label_selector="app=x").items
    # Each delete answers as upstream's: a Status for most kinds, the object for services
    # and pods (a pod with a grace period still there, with its deletionTimestamp).
    assert core.delete_namespaced_config_map("x", namespace)["status"] == "Success"
    deleted_service = core.delete_namespaced_service("x", namespace)
    assert isinstance(deleted_service, client.V1Service) and deleted_service.metadata.name == "x"
    # (a pod of its own: the controllers above may adopt and remove pod x meanwhile)
    lone = client.V1Pod(metadata=client.V1ObjectMeta(name="lone"), spec=template.spec)
    core.create_namespaced_pod(namespace, lone)
    deleted_pod = core.delete_namespaced_pod("lone", namespace, grace_period_seconds=30)
    assert isinstance(deleted_pod, client.V1Pod) and deleted_pod.metadata.name == "lone"
    assert core.delete_namespaced_service_account("default", namespace).metadata.name == "default"
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("x", namespace)
    assert caught.value.status == 404
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(namespace, client.V1Secret(metadata=meta))
    assert caught.value.status == 409


def test_list_and_watch(api, namespace):
    core = client.CoreV1Api(api)
    listing = core.list_namespaced_config_map(namespace)
    seen = []

    def follow():
        stream = watch.Watch()
        for event in stream.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=5,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                stream.stop()

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.5)
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w"))
    )
    core.patch_namespaced_config_map("w", namespace, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("w", namespace)
    thread.join(timeout=10)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_dynamic_client(api, namespace):
    dyn = dynamic.DynamicClient(api)
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(
        namespace=namespace,
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "dyn"},
            "data": {"a": "b"},
        },
    )
    assert configmaps.get(name="dyn", namespace=namespace).data.a == "b"
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.get(namespace=namespace).items == []
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert leases.get(namespace="kube-node-lease").items


def test_create_from_yaml_with_several_kinds(api, tmp_path):
    name = unique("yaml")
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.read_text().replace("NAMESPACE", name))
    try:
        created = utils.create_from_yaml(api, str(manifest))
        kinds = [obj.kind for group in created for obj in group]
        assert kinds == ["Namespace", "Deployment", "Service", "ConfigMap"]
        assert client.AppsV1Api(api).read_namespaced_deployment("web", name).spec.replicas == 2
    finally:
        client.CoreV1Api(api).delete_namespace(name)


def _kinds(api, namespace):
    """(list function, create function, body) for every namespaced kind, typed."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    batch, coordination = client.BatchV1Api(api), client.CoordinationV1Api(api)
    discovery, events = client.DiscoveryV1Api(api), client.EventsV1Api(api)
    meta = {"name": "k", "labels": {"app": "k"}}
    template = {
        "metadata": {"labels": {"app": "k"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    workload = {
        "metadata": meta,
        "spec": {"selector": {"matchLabels": {"app": "k"}}, "template": template},
    }
    regarding = {"kind": "Pod", "name": "k", "namespace": namespace}
    return {
        "pods": (
            core.list_namespaced_pod,
            core.create_namespaced_pod,
            {"metadata": meta, "spec": template["spec"]},
        ),
        "services": (
            core.list_namespaced_service,
            core.create_namespaced_service,
            {"metadata": meta, "spec": {"ports": [{"port": 80}]}},
        ),
        "endpoints": (
            core.list_namespaced_endpoints,
            core.create_namespaced_endpoints,
            {
                "metadata": meta,
                "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
            },
        ),
        "configmaps": (
            core.list_namespaced_config_map,
            core.create_namespaced_config_map,
            {"metadata": meta, "data": {"a": "b"}},
        ),
        "secrets": (
            core.list_namespaced_secret,
            core.create_namespaced_secret,
            {"metadata": meta, "stringData": {"a": "b"}},
        ),
        "serviceaccounts": (
            core.list_namespaced_service_account,
            core.create_namespaced_service_account,
            {"metadata": meta},
        ),
        "events": (
            core.list_namespaced_event,
            core.create_namespaced_event,
            {
                "metadata": meta,
                "involvedObject": regarding,
                "reason": "R",
                "message": "m",
                "type": "Normal",
            },
        ),
        "deployments": (
            apps.list_namespaced_deployment,
            apps.create_namespaced_deployment,
            workload,
        ),
        "replicasets": (
            apps.list_namespaced_replica_set,
            apps.create_namespaced_replica_set,
            workload,
        ),
        "daemonsets": (
            apps.list_namespaced_daemon_set,
            apps.create_namespaced_daemon_set,
            workload,
        ),
        "statefulsets": (
            apps.list_namespaced_stateful_set,
            apps.create_namespaced_stateful_set,
            {**workload, "spec": {**workload["spec"], "serviceName": "k"}},
        ),
        "jobs": (
            batch.list_namespaced_job,
            batch.create_namespaced_job,
            {
                "metadata": meta,
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": template["spec"]["containers"],
                        }
                    }
                },
            },
        ),
        "leases": (
            coordination.list_namespaced_lease,
            coordination.create_namespaced_lease,
            {"metadata": meta, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 10}},
        ),
        "endpointslices": (
            discovery.list_namespaced_endpoint_slice,
            discovery.create_namespaced_endpoint_slice,
            {"metadata": meta, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]},
        ),
        "events.k8s.io": (
            events.list_namespaced_event,
            events.create_namespaced_event,
            {
                "metadata": {"name": "k2"},
                "regarding": regarding,
                "reason": "R",
                "note": "n",
                "type": "Normal",
                "action": "A",
                "reportingController": "e2e",
                "reportingInstance": "e2e-1",
                "eventTime": "2026-01-01T00:00:00.000000Z",
            },
        ),
    }


KINDS = [
    "pods",
    "services",
    "endpoints",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "events",
    "deployments",
    "replicasets",
    "daemonsets",
    "statefulsets",
    "jobs",
    "leases",
    "endpointslices",
    "events.k8s.io",
]


@pytest.mark.parametrize("plural", KINDS)
def test_typed_list_and_watch_of_each_kind(api, namespace, plural):
    list_fn, create_fn, body = _kinds(api, namespace)[plural]
    listing = list_fn(namespace)
    created = create_fn(namespace, body)
    name = created.metadata.name
    stream = watch.Watch()
    events = []
    for event in stream.stream(
        list_fn, namespace, resource_version=listing.metadata.resource_version, timeout_seconds=5
    ):
        events.append((event["type"], event["object"].metadata.name))
        stream.stop()
    assert events == [("ADDED", name)]
    assert name in [item.metadata.name for item in list_fn(namespace).items]
