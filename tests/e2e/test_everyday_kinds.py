"""The everyday kinds beyond the core, each with the controller behind it, on real pods:
CronJobs run on schedule, an autoscaler follows CPU, a high-priority pod preempts, a
quota refuses, ReplicationControllers scale, CSRs are approved and signed, and (on a
cluster of their own, as they cordon nodes) ``kubectl drain`` and ``ku7s chaos drain``
honour disruption budgets."""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from ku7s.api.quantity import parse_quantity
from ku7s.cluster.providers.docker import DockerProvider
from tests.e2e.conftest import Cluster, kubectl_path, new_cluster, run_ku7s, unique


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("kinds") as name:
        yield name


def apply(cluster: Cluster, ns: str, manifest: str, tmp_path: Path) -> None:
    path = tmp_path / f"{unique('m')}.yaml"
    path.write_text(textwrap.dedent(manifest))
    cluster.kubectl("apply", "-n", ns, "-f", str(path))


def test_a_cron_job_runs_every_minute_and_a_job_can_be_made_from_it(cluster: Cluster, ns: str):
    cluster.kubectl(
        "create", "cronjob", "tick", "-n", ns, "--image=busybox", "--schedule=* * * * *",
        "--", "echo", "tick",
    )  # fmt: skip
    cluster.kubectl("create", "job", "by-hand", "--from=cronjob/tick", "-n", ns)
    cluster.kubectl(
        "wait", "--for=condition=Complete", "job/by-hand", "-n", ns, "--timeout=60s", timeout=70
    )
    manual = cluster.get_json("job", "by-hand", "-n", ns)
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"

    def scheduled_run_completed() -> bool:
        jobs = cluster.get_json("jobs", "-n", ns)["items"]
        return any(
            j["metadata"]["name"].startswith("tick-")
            and j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
            and (j.get("status") or {}).get("succeeded") == 1
            for j in jobs
        )

    cluster.wait_for(scheduled_run_completed, 80, interval=1, what="the first scheduled job")
    cronjob = cluster.get_json("cronjob", "tick", "-n", ns)
    assert cronjob["status"]["lastScheduleTime"]

    def success_recorded() -> bool:
        return bool(
            cluster.get_json("cronjob", "tick", "-n", ns)["status"].get("lastSuccessfulTime")
        )

    cluster.wait_for(success_recorded, 10, interval=0.5, what="lastSuccessfulTime")
    table = cluster.kubectl("get", "cronjob", "tick", "-n", ns).stdout
    assert "* * * * *" in table and "<none>" in table.splitlines()[1]  # no time zone


BURNER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: burn}
spec:
  replicas: 1
  selector: {matchLabels: {app: burn}}
  template:
    metadata: {labels: {app: burn}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        # Busy for 20 s from its start, then idle.
        command:
        - sh
        - -c
        - end=$(( $(date +%s) + 20 )); while [ $(date +%s) -lt $end ]; do :; done; exec sleep 3600
        resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}
"""


def test_an_autoscaler_scales_a_cpu_burning_deployment_up_and_back_down(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(cluster, ns, BURNER, tmp_path)
    cluster.kubectl(
        "autoscale", "deployment", "burn", "-n", ns, "--cpu-percent=50", "--min=1", "--max=3"
    )
    # No waiting five minutes to scale down: the autoscaler's own behavior says so.
    behavior = {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}}
    cluster.kubectl("patch", "hpa", "burn", "-n", ns, "--type=merge", "-p", json.dumps(behavior))

    def replicas() -> int:
        return int(cluster.get_json("deployment", "burn", "-n", ns)["spec"]["replicas"])

    cluster.wait_for(lambda: replicas() > 1, 60, interval=1, what="the scale up")
    shown = cluster.kubectl("get", "hpa", "burn", "-n", ns).stdout
    assert "Deployment/burn" in shown and "/50%" in shown
    cluster.wait_for(lambda: replicas() == 1, 75, interval=1, what="the scale down")
    hpa = cluster.get_json("hpa.v2.autoscaling", "burn", "-n", ns)
    reasons = {c["type"]: c["reason"] for c in hpa["status"]["conditions"]}
    assert reasons["ScalingActive"] == "ValidMetricFound"
    assert hpa["status"]["currentMetrics"][0]["resource"]["name"] == "cpu"
    events = cluster.get_json("events", "-n", ns, "--field-selector", "reason=SuccessfulRescale")
    assert any("New size: 1" in e["message"] for e in events["items"])


def _free_cpu(cluster: Cluster, node: str) -> float:
    allocatable = cluster.get_json("node", node)["status"]["allocatable"]["cpu"]
    pods = cluster.get_json("pods", "-A", "--field-selector", f"spec.nodeName={node}")["items"]
    used = sum(
        float(parse_quantity(c.get("resources", {}).get("requests", {}).get("cpu", "0")))
        for p in pods
        if p["status"].get("phase") not in ("Succeeded", "Failed")
        for c in p["spec"]["containers"]
    )
    return float(parse_quantity(allocatable)) - used


def test_a_high_priority_pod_preempts_a_lower_one_on_a_full_node(
    cluster: Cluster, ns: str, tmp_path: Path
):
    node = cluster.workers[0]
    low, high = unique("low"), unique("high")
    cluster.kubectl("create", "priorityclass", low, "--value=10")
    cluster.kubectl("create", "priorityclass", high, "--value=1000")
    try:
        fill = int((_free_cpu(cluster, node) - 0.3) * 1000)
        apply(cluster, ns, f"""
            apiVersion: v1
            kind: Pod
            metadata: {{name: filler}}
            spec:
              priorityClassName: {low}
              nodeSelector: {{kubernetes.io/hostname: {node}}}
              terminationGracePeriodSeconds: 0
              containers:
              - {{name: c, image: busybox, command: [sleep, "3600"],
                 resources: {{requests: {{cpu: {fill}m}}}}}}
        """, tmp_path)  # fmt: skip
        cluster.kubectl(
            "wait", "--for=condition=Ready", "pod/filler", "-n", ns, "--timeout=60s", timeout=70
        )
        apply(cluster, ns, f"""
            apiVersion: v1
            kind: Pod
            metadata: {{name: vip}}
            spec:
              priorityClassName: {high}
              nodeSelector: {{kubernetes.io/hostname: {node}}}
              containers:
              - {{name: c, image: busybox, command: [sleep, "3600"],
                 resources: {{requests: {{cpu: 500m}}}}}}
        """, tmp_path)  # fmt: skip
        cluster.kubectl(
            "wait", "--for=condition=Ready", "pod/vip", "-n", ns, "--timeout=60s", timeout=70
        )
        vip = cluster.get_json("pod", "vip", "-n", ns)
        assert vip["spec"]["priority"] == 1000 and vip["spec"]["nodeName"] == node
        assert vip["status"].get("nominatedNodeName") == node
        assert cluster.kubectl("get", "pod", "filler", "-n", ns, check=False).returncode != 0
        events = cluster.get_json("events", "-n", ns, "--field-selector", "reason=Preempted")[
            "items"
        ]
        assert any(e["involvedObject"]["name"] == "filler" for e in events)
    finally:
        cluster.kubectl("delete", "priorityclass", low, high, check=False)


def test_a_quota_refuses_the_pod_over_it_and_a_limit_range_fills_in_requests(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(cluster, ns, """
        apiVersion: v1
        kind: LimitRange
        metadata: {name: defaults}
        spec:
          limits: [{type: Container, default: {cpu: 200m}, defaultRequest: {cpu: 100m}}]
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: small}
        spec: {hard: {pods: "2", requests.cpu: 150m}}
    """, tmp_path)  # fmt: skip
    cluster.wait_for(
        lambda: cluster.get_json("quota", "small", "-n", ns).get("status", {}).get("hard"),
        20, what="the quota's status",
    )  # fmt: skip
    cluster.kubectl("run", "one", "-n", ns, "--image=busybox", "--", "sleep", "3600")
    one = cluster.get_json("pod", "one", "-n", ns)
    assert one["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "200m"}, "requests": {"cpu": "100m"}
    }  # fmt: skip
    refused = cluster.kubectl(
        "run", "two", "-n", ns, "--image=busybox", "--", "sleep", "3600", check=False
    )
    assert refused.returncode != 0
    assert (
        'pods "two" is forbidden: exceeded quota: small, requested: requests.cpu=100m, '
        "used: requests.cpu=100m, limited: requests.cpu=150m" in refused.stderr
    )
    table = cluster.kubectl("get", "quota", "small", "-n", ns).stdout
    assert "pods: 1/2" in table and "requests.cpu: 100m/150m" in table


def test_replication_controllers_from_the_python_client_scale_with_kubectl(
    cluster: Cluster, ns: str
):
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    body = k8s.V1ReplicationController(
        metadata=k8s.V1ObjectMeta(name="rc"),
        spec=k8s.V1ReplicationControllerSpec(
            replicas=2,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels={"app": "rc"}),
                spec=k8s.V1PodSpec(
                    containers=[
                        k8s.V1Container(name="c", image="busybox", command=["sleep", "3600"])
                    ],
                    termination_grace_period_seconds=0,
                ),
            ),
        ),
    )
    created = api.create_namespaced_replication_controller(ns, body)
    assert created.spec.selector == {"app": "rc"}  # defaulted from the template

    def ready(count: int) -> bool:
        return (
            api.read_namespaced_replication_controller(
                name="rc", namespace=ns
            ).status.ready_replicas
            == count
        )

    cluster.wait_for(lambda: ready(2), 60, interval=0.5, what="2 ready replicas")
    cluster.kubectl("scale", "rc", "rc", "-n", ns, "--replicas=3")
    cluster.wait_for(lambda: ready(3), 60, interval=0.5, what="3 ready replicas")
    shown = cluster.kubectl("get", "all", "-n", ns).stdout
    assert "replicationcontroller/rc" in shown


def test_api_resources_lists_the_kinds_with_upstreams_short_names(cluster: Cluster):
    listed = cluster.kubectl("api-resources", "--no-headers").stdout.splitlines()
    shorts = {line.split()[0]: line.split()[1] for line in listed if len(line.split()) == 5}
    for plural, short in {
        "cronjobs": "cj", "horizontalpodautoscalers": "hpa", "poddisruptionbudgets": "pdb",
        "priorityclasses": "pc", "resourcequotas": "quota", "limitranges": "limits",
        "replicationcontrollers": "rc", "certificatesigningrequests": "csr", "ingresses": "ing",
        "networkpolicies": "netpol", "storageclasses": "sc", "persistentvolumes": "pv",
        "persistentvolumeclaims": "pvc",
    }.items():  # fmt: skip
        assert shorts.get(plural) == short, plural
    names = {line.split()[0] for line in listed}
    assert {"podtemplates", "controllerrevisions", "runtimeclasses", "ingressclasses",
            "csidrivers", "csinodes", "volumeattachments"} <= names  # fmt: skip
    classes = cluster.kubectl("get", "priorityclasses", "-o", "name").stdout.split()
    assert {"priorityclass.scheduling.k8s.io/system-node-critical",
            "priorityclass.scheduling.k8s.io/system-cluster-critical"} <= set(classes)  # fmt: skip


def test_a_client_certificate_request_is_approved_and_signed(cluster: Cluster, tmp_path: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jane"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs")])  # fmt: skip
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    pem = request.public_bytes(serialization.Encoding.PEM)
    name = unique("jane")
    manifest = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "expirationSeconds": 3600,
            "usages": ["client auth"],
        },
    }
    path = tmp_path / "csr.json"
    path.write_text(json.dumps(manifest))
    cluster.kubectl("create", "-f", str(path))
    try:
        assert "Pending" in cluster.kubectl("get", "csr", name).stdout
        cluster.kubectl("certificate", "approve", name)

        def issued() -> str:
            return cluster.get_json("csr", name).get("status", {}).get("certificate", "")

        cluster.wait_for(issued, 20, what="the signed certificate")
        cert = x509.load_pem_x509_certificate(base64.b64decode(issued()))
        assert cert.subject == subject
        assert "Approved,Issued" in cluster.kubectl("get", "csr", name).stdout
        # The certificate works: jane is who the API server sees.
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        config["users"][0]["user"] = {
            "client-certificate-data": issued(),
            "client-key-data": base64.b64encode(key_pem).decode(),
        }
        jane_config = tmp_path / "jane.kubeconfig"
        jane_config.write_text(yaml.safe_dump(config))
        argv = [kubectl_path("1.33"), "--kubeconfig", str(jane_config)]
        whoami = subprocess.run(
            [*argv, "auth", "whoami", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        info = json.loads(whoami.stdout)["status"]["userInfo"]
        assert info["username"] == "jane" and "devs" in info["groups"]
    finally:
        cluster.kubectl("delete", "csr", name, check=False)


# -- on a cluster of their own: they cordon nodes ---------------------------------------


@pytest.fixture(scope="module")
def drainable(
    provider: DockerProvider, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with new_cluster(provider, tmp_path_factory.mktemp("drain"), "drain", "--workers", "2") as c:
        yield c


GUARDED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
"""


def _on(cluster: Cluster, ns: str, node: str) -> list[str]:
    pods = cluster.get_json("pods", "-n", ns, "--field-selector", f"spec.nodeName={node}")["items"]
    return [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]


def _budget_allows(cluster: Cluster, ns: str, count: int) -> bool:
    status = cluster.get_json("pdb", "web", "-n", ns).get("status", {})
    return status.get("disruptionsAllowed") == count and status.get("currentHealthy") == 2


def test_kubectl_drain_stops_at_a_budget_and_goes_on_when_allowed(
    drainable: Cluster, tmp_path: Path
):
    cluster = drainable
    first, second = cluster.workers
    with cluster.namespace("drain") as ns:
        apply(cluster, ns, GUARDED, tmp_path)
        cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s", timeout=70)
        cluster.wait_for(lambda: _budget_allows(cluster, ns, 1), 30, what="the budget's status")
        try:
            cluster.kubectl("drain", first, "--ignore-daemonsets", "--timeout=60s", timeout=70)
            assert _on(cluster, ns, first) == []
            cluster.wait_for(
                lambda: len(_on(cluster, ns, second)) == 2 and _budget_allows(cluster, ns, 1),
                60,
                what="both pods on the second node",
            )
            # The second node's last pods have nowhere to go: the budget stops the drain.
            stuck = cluster.kubectl(
                "drain", second, "--ignore-daemonsets", "--timeout=15s", check=False, timeout=30
            )
            assert stuck.returncode != 0
            assert (
                "Cannot evict pod as it would violate the pod's disruption budget" in stuck.stderr
            )
            assert len(_on(cluster, ns, second)) == 1
            # Room again on the first node: the replacement becomes ready, the drain goes on.
            cluster.kubectl("uncordon", first)
            cluster.kubectl("drain", second, "--ignore-daemonsets", "--timeout=60s", timeout=70)
            assert _on(cluster, ns, second) == []
        finally:
            cluster.kubectl("uncordon", first, second, check=False)


def test_chaos_drain_evicts_through_budgets_and_uncordons_at_the_end(
    drainable: Cluster, tmp_path: Path
):
    cluster = drainable
    target, other = cluster.workers
    with cluster.namespace("chaosdrain") as ns:
        cluster.kubectl("cordon", other)  # both pods on the target
        try:
            apply(cluster, ns, GUARDED, tmp_path)
            cluster.kubectl(
                "rollout", "status", "deploy/web", "-n", ns, "--timeout=60s", timeout=70
            )
        finally:
            cluster.kubectl("uncordon", other)
        assert len(_on(cluster, ns, target)) == 2
        cluster.wait_for(lambda: _budget_allows(cluster, ns, 1), 30, what="the budget's status")
        # The budget lets one go at once; the other only once its replacement is ready.
        result = run_ku7s(
            "chaos", "drain", target, "--duration", "15s", "--name", cluster.name,
            env=cluster.env, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert _on(cluster, ns, target) == []
        assert len(_on(cluster, ns, other)) == 2
        assert not cluster.get_json("node", target)["spec"].get("unschedulable")  # reverted


def test_runtime_classes_pick_the_handler_and_an_unknown_one_is_refused(
    cluster: Cluster, ns: str, tmp_path: Path
):
    runc, missing = unique("runc"), unique("nohandler")
    apply(cluster, ns, f"""
        apiVersion: node.k8s.io/v1
        kind: RuntimeClass
        metadata: {{name: {runc}}}
        handler: runc
        ---
        apiVersion: node.k8s.io/v1
        kind: RuntimeClass
        metadata: {{name: {missing}}}
        handler: gvisor
    """, tmp_path)  # fmt: skip
    try:
        for pod, runtime_class in (("on-runc", runc), ("on-gvisor", missing)):
            apply(cluster, ns, f"""
                apiVersion: v1
                kind: Pod
                metadata: {{name: {pod}}}
                spec:
                  runtimeClassName: {runtime_class}
                  terminationGracePeriodSeconds: 0
                  containers: [{{name: c, image: busybox, command: [sleep, "3600"]}}]
            """, tmp_path)  # fmt: skip
        cluster.kubectl(
            "wait", "--for=condition=Ready", "pod/on-runc", "-n", ns, "--timeout=60s", timeout=70
        )

        def refused() -> bool:
            events = cluster.get_json(
                "events", "-n", ns, "--field-selector", "involvedObject.name=on-gvisor"
            )
            return any(
                e["reason"] == "FailedCreatePodSandBox"
                and 'no runtime for "gvisor"' in e["message"]
                for e in events["items"]
            )

        cluster.wait_for(refused, 30, interval=0.5, what="the runtime's refusal")
        overrides = json.dumps({"spec": {"runtimeClassName": unique("gone")}})
        nowhere = cluster.kubectl(
            "run", "nowhere", "-n", ns, "--image=busybox", f"--overrides={overrides}", check=False
        )
        assert nowhere.returncode != 0 and "pod rejected: RuntimeClass" in nowhere.stderr
    finally:
        cluster.kubectl("delete", "runtimeclass", runc, missing, check=False)


def test_rollout_history_and_undo_of_a_daemon_set(cluster: Cluster, ns: str, tmp_path: Path):
    manifest = """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: agent
          annotations: {{kubernetes.io/change-cause: "{cause}"}}
        spec:
          selector: {{matchLabels: {{app: agent}}}}
          template:
            metadata: {{labels: {{app: agent}}}}
            spec:
              terminationGracePeriodSeconds: 0
              containers: [{{name: c, image: busybox, command: [sleep, "{seconds}"]}}]
    """
    apply(cluster, ns, manifest.format(cause="first", seconds=3600), tmp_path)
    cluster.kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=90s", timeout=100)
    apply(cluster, ns, manifest.format(cause="second", seconds=7200), tmp_path)
    cluster.kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=90s", timeout=100)

    def history() -> str:
        return cluster.kubectl("rollout", "history", "ds/agent", "-n", ns).stdout

    cluster.wait_for(lambda: "2         second" in history(), 20, what="two revisions")
    assert "1         first" in history()
    cluster.kubectl("rollout", "undo", "ds/agent", "-n", ns)
    cluster.kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=90s", timeout=100)
    command = cluster.get_json("ds", "agent", "-n", ns)["spec"]["template"]["spec"]["containers"][
        0
    ]["command"]
    assert command == ["sleep", "3600"]
    cluster.wait_for(
        lambda: "3         first" in history(), 20, what="the first template as revision 3"
    )


BAD_INPUT = [
    (
        ["create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *"],
        "cronjob/bad",
        'spec.schedule: Invalid value: "61 * * * *"',
    ),
    (["create", "quota", "bad", "--hard=pods=-1"], "quota/bad", "spec.hard[pods]: Invalid value"),
]
BAD_MANIFESTS = [
    (
        """
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata: {name: bad}
        spec: {minAvailable: 1, maxUnavailable: 1, selector: {matchLabels: {app: x}}}
        """,
        "pdb/bad",
        "minAvailable and maxUnavailable cannot be both set",
    ),
    (
        """
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: bad}
        spec:
          scaleTargetRef: {apiVersion: v1, kind: ConfigMap, name: settings}
          maxReplicas: 3
        """,
        "hpa/bad",
        "spec.scaleTargetRef.kind: Invalid value",
    ),
]


@pytest.mark.parametrize(("args", "what", "message"), BAD_INPUT)
def test_bad_everyday_objects_from_kubectl_create_are_422_with_the_field(
    cluster: Cluster, ns: str, args: list[str], what: str, message: str
):
    result = cluster.kubectl(*args, "-n", ns, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert cluster.kubectl("get", what, "-n", ns, check=False).returncode != 0


@pytest.mark.parametrize(("manifest", "what", "message"), BAD_MANIFESTS)
def test_bad_everyday_manifests_are_422_with_the_field(
    cluster: Cluster, ns: str, tmp_path: Path, manifest: str, what: str, message: str
):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(manifest))
    result = cluster.kubectl("apply", "-n", ns, "-f", str(path), check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "is invalid" in result.stderr
    assert cluster.kubectl("get", what, "-n", ns, check=False).returncode != 0
