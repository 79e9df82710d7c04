"""The workload and node controllers' decisions, with informer caches filled by hand and an
API fake that records what the controller asked for."""

from __future__ import annotations

import datetime
import itertools

from control_plane.controllers import pod_control as pc
from control_plane.controllers.daemonset import should_run
from control_plane.controllers.deployment import DeploymentController, resolve, set_condition
from control_plane.controllers.expectations import Expectations
from control_plane.controllers.garbage_collector import GarbageCollector
from control_plane.controllers.job import JobController
from control_plane.controllers.node_lifecycle import eviction_delay, wanted_taints
from control_plane.controllers.replicaset import ReplicaSetController
from control_plane.controllers.statefulset import StatefulSetController

NOW = "2026-11-28T12:00:00Z"


class RecordingAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self._names = itertools.count()

    async def create(self, path, body):
        self.calls.append(("create", path, body))
        metadata = dict(body["metadata"])
        metadata.setdefault("name", f"{metadata.get('generateName', 'x-')}{next(self._names)}")
        metadata["uid"] = f"uid-{metadata['name']}"
        return {**body, "metadata": metadata}

    async def delete(self, path, params=None):
        self.calls.append(("delete", path, params))
        return {}

    async def patch(self, path, patch, content_type=None):
        self.calls.append(("patch", path, patch))
        return patch

    def made(self, verb: str) -> list:
        """The calls of a verb, ControllerRevisions aside (see revisions())."""
        return [c for c in self.calls if c[0] == verb and "/controllerrevisions" not in c[1]]

    def revisions(self) -> list:
        return [c for c in self.calls if "/controllerrevisions" in c[1]]


def template(labels, **spec):
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def owned_pod(name, owner, labels, phase="Running", ready=True, **extra):
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels,
            "creationTimestamp": NOW,
            "ownerReferences": [
                {
                    "uid": owner["metadata"]["uid"],
                    "kind": owner["kind"],
                    "name": owner["metadata"]["name"],
                    "controller": True,
                }
            ],
            **extra,
        },
        "spec": {"nodeName": "n1"},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": NOW}
            ],
        },
    }


def feed(informer, *objects):
    for obj in objects:
        informer._apply("ADDED", obj)


async def test_replicaset_creates_the_missing_pods_once():
    api = RecordingAPI()
    controller = ReplicaSetController(api)  # type: ignore[arg-type]
    rs = {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "rs-1", "generation": 1},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"}),
        },
    }
    feed(controller.replicasets, rs)
    feed(controller.pods, owned_pod("web-a", rs, {"app": "web"}))
    await controller.reconcile("default/web")
    created = api.made("create")
    assert len(created) == 2
    assert created[0][2]["metadata"]["generateName"] == "web-"
    assert created[0][2]["metadata"]["ownerReferences"][0]["uid"] == "rs-1"
    await controller.reconcile("default/web")  # the informer has not seen them yet
    assert len(api.made("create")) == 2
    status = api.made("patch")[-1][2]["status"]
    assert status["replicas"] == 1 and status["readyReplicas"] == 1


async def test_replicaset_deletes_the_least_valuable_pods_first():
    api = RecordingAPI()
    controller = ReplicaSetController(api)  # type: ignore[arg-type]
    rs = {
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "rs-1"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"}),
        },
    }
    feed(controller.replicasets, rs)
    feed(
        controller.pods,
        owned_pod("ready", rs, {"app": "web"}),
        owned_pod("unready", rs, {"app": "web"}, ready=False),
        owned_pod("pending", rs, {"app": "web"}, phase="Pending", ready=False),
    )
    await controller.reconcile("default/web")
    deleted = sorted(path.rsplit("/", 1)[1] for _, path, _ in api.made("delete"))
    assert deleted == ["pending", "unready"]


def test_max_surge_and_unavailable_resolve_like_upstream():
    assert resolve("25%", 3, round_up=True, default="25%") == 1
    assert resolve("25%", 3, round_up=False, default="25%") == 0
    assert resolve(None, 10, round_up=True, default="25%") == 3
    assert resolve(2, 10, round_up=False, default="25%") == 2


def test_conditions_keep_their_transition_time_while_status_holds():
    first = set_condition(
        [], {"type": "Available", "status": "True", "reason": "A", "message": "m"}, "t1"
    )
    again = set_condition(
        first, {"type": "Available", "status": "True", "reason": "B", "message": "m"}, "t2"
    )
    assert again[0]["lastTransitionTime"] == "t1" and again[0]["lastUpdateTime"] == "t2"
    flipped = set_condition(
        again, {"type": "Available", "status": "False", "reason": "B", "message": "m"}, "t3"
    )
    assert flipped[0]["lastTransitionTime"] == "t3"


async def test_deployment_starts_a_rolling_update_within_its_surge():
    api = RecordingAPI()
    controller = DeploymentController(api)  # type: ignore[arg-type]
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "d-1", "generation": 2},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"}, env="new"),
        },
    }
    old = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-old",
            "namespace": "default",
            "uid": "rs-old",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [
                {"uid": "d-1", "kind": "Deployment", "name": "web", "controller": True}
            ],
        },
        "spec": {"replicas": 3, "template": template({"app": "web", "pod-template-hash": "old"})},
        "status": {"replicas": 3, "availableReplicas": 3, "readyReplicas": 3},
    }
    feed(controller.deployments, deployment)
    feed(controller.replicasets, old)
    await controller.reconcile("default/web")
    [(_, path, new_rs)] = api.made("create")
    assert path == "/apis/apps/v1/namespaces/default/replicasets"
    assert new_rs["spec"]["replicas"] == 1  # maxSurge 25% of 3, rounded up
    assert new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    hash_label = new_rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    assert new_rs["metadata"]["name"] == f"web-{hash_label}"
    assert not [c for c in api.made("patch") if c[1].endswith("/web-old")]  # maxUnavailable 0


async def test_a_replicaset_made_by_an_earlier_pass_is_used_not_collided_with():
    """The cache may not show the ReplicaSet the controller just made: creating it again
    answers 409, and the one there (its own, same template) is the new one, with no
    collision counted and no second ReplicaSet."""
    from ku7s.client.rest import APIStatusError

    made: dict = {}

    class ConflictingAPI(RecordingAPI):
        async def create(self, path, body):
            if (
                "/replicasets" in path
                and made.get("metadata", {}).get("name") == body["metadata"]["name"]
            ):
                self.calls.append(("create", path, body))
                raise APIStatusError(409, "AlreadyExists", "exists")
            created = await super().create(path, body)
            if "/replicasets" in path and not made:
                made.update(created)
            return created

        async def get(self, path, params=None):
            return made

    api = ConflictingAPI()
    controller = DeploymentController(api)  # type: ignore[arg-type]
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "d-1", "generation": 1},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"}),
        },
    }
    feed(controller.deployments, deployment)
    await controller.reconcile("default/web")
    await controller.reconcile("default/web")  # the cache still shows no ReplicaSet
    creates = [c for c in api.made("create") if "/replicasets" in c[1]]
    assert (
        len(creates) == 2 and creates[0][2]["metadata"]["name"] == creates[1][2]["metadata"]["name"]
    )
    assert not [c for c in api.made("patch") if "collisionCount" in str(c[2])]


async def test_recreate_scales_old_pods_away_before_the_new_replicaset():
    api = RecordingAPI()
    controller = DeploymentController(api)  # type: ignore[arg-type]
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "d-1", "generation": 2},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"}, env="new"),
        },
    }
    old = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-old",
            "namespace": "default",
            "uid": "rs-old",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [
                {"uid": "d-1", "kind": "Deployment", "name": "web", "controller": True}
            ],
        },
        "spec": {"replicas": 2, "template": template({"app": "web", "pod-template-hash": "old"})},
        "status": {"replicas": 2, "availableReplicas": 2, "readyReplicas": 2},
    }
    feed(controller.deployments, deployment)
    feed(controller.replicasets, old)
    feed(controller.pods, owned_pod("web-old-a", old, {"app": "web", "pod-template-hash": "old"}))
    await controller.reconcile("default/web")
    scaled = [c for c in api.made("patch") if c[1].endswith("/replicasets/web-old")]
    assert scaled and scaled[0][2]["spec"]["replicas"] == 0
    assert not api.made("create")  # an old pod still runs
    controller.pods._apply("DELETED", controller.pods.list()[0])
    await controller.reconcile("default/web")
    [(_, _, new_rs)] = api.made("create")
    assert new_rs["spec"]["replicas"] == 2


async def test_foreground_owner_is_released_when_its_last_dependent_is_gone():
    api = RecordingAPI()
    collector = GarbageCollector(api)  # type: ignore[arg-type]
    pods, replicasets = collector.informers[0], collector.informers[6]
    rs = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "rs-1",
            "resourceVersion": "7",
            "deletionTimestamp": NOW,
            "finalizers": ["foregroundDeletion"],
        },
    }
    pod = owned_pod("web-a", rs, {"app": "web"})
    pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    feed(replicasets, rs)
    feed(pods, pod)
    await collector.reconcile("rs-1")
    assert [path for _, path, _ in api.made("delete")] == ["/api/v1/namespaces/default/pods/web-a"]
    assert not api.made("patch")  # the pod still blocks
    while len(collector.queue):
        collector.queue.done(await collector.queue.get())
    pods._apply("DELETED", pod)
    assert len(collector.queue) == 1
    await collector.reconcile(await collector.queue.get())
    [(_, path, patch)] = api.made("patch")
    assert path == "/apis/apps/v1/namespaces/default/replicasets/web"
    assert patch["metadata"]["finalizers"] is None


async def test_job_runs_parallel_pods_and_completes():
    api = RecordingAPI()
    controller = JobController(api)  # type: ignore[arg-type]
    job = {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": "j", "namespace": "default", "uid": "job-1"},
        "spec": {
            "completions": 3,
            "parallelism": 2,
            "selector": {"matchLabels": {"job": "j"}},
            "template": template({"job": "j"}, restartPolicy="Never"),
        },
    }
    feed(controller.jobs, job)
    await controller.reconcile("default/j")
    assert len(api.made("create")) == 2
    done = [
        owned_pod(f"j-{i}", job, {"job": "j"}, phase="Succeeded", ready=False) for i in range(3)
    ]
    controller.expectations.forget("default/j")
    feed(controller.pods, *done)
    await controller.reconcile("default/j")
    status = api.made("patch")[-1][2]["status"]
    assert status["succeeded"] == 3
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]


async def test_job_fails_past_its_backoff_limit():
    api = RecordingAPI()
    controller = JobController(api)  # type: ignore[arg-type]
    job = {
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "default", "uid": "job-1"},
        "spec": {
            "backoffLimit": 1,
            "selector": {"matchLabels": {"job": "j"}},
            "template": template({"job": "j"}),
        },
    }
    feed(controller.jobs, job)
    feed(
        controller.pods,
        *[owned_pod(f"j-{i}", job, {"job": "j"}, phase="Failed", ready=False) for i in range(2)],
    )
    await controller.reconcile("default/j")
    status = api.made("patch")[-1][2]["status"]
    assert status["conditions"][-1]["type"] == "Failed"
    assert status["conditions"][-1]["reason"] == "BackoffLimitExceeded"


async def test_statefulset_starts_pods_in_order():
    api = RecordingAPI()
    controller = StatefulSetController(api)  # type: ignore[arg-type]
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "uid": "sts-1"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": template({"app": "db"}),
        },
    }
    feed(controller.sets, sts)
    await controller.reconcile("default/db")
    [(_, _, first)] = api.made("create")
    assert first["metadata"]["name"] == "db-0"
    assert first["spec"]["hostname"] == "db-0" and first["spec"]["subdomain"] == "db"
    controller.expectations.forget("default/db")
    feed(controller.pods, owned_pod("db-0", sts, {"app": "db"}, ready=False))
    await controller.reconcile("default/db")
    assert len(api.made("create")) == 1  # db-1 waits for db-0 to be ready


def test_daemon_pods_go_where_selector_and_taints_allow():
    tmpl = template({"app": "d"}, nodeSelector={"role": "edge"})
    edge = {"metadata": {"name": "a", "labels": {"role": "edge"}}, "spec": {}}
    other = {"metadata": {"name": "b", "labels": {}}, "spec": {}}
    tainted = {
        "metadata": {"name": "c", "labels": {"role": "edge"}},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
    }
    cordoned = {
        "metadata": {"name": "d", "labels": {"role": "edge"}},
        "spec": {"taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
    }
    assert [should_run(tmpl, n) for n in (edge, other, tainted, cordoned)] == [
        True,
        False,
        False,
        True,
    ]


def test_condition_taints_follow_ready():
    node = {
        "metadata": {"name": "n"},
        "spec": {"taints": [{"key": "mine", "effect": "NoSchedule"}]},
    }
    unknown = {**node, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    taints = wanted_taints(unknown, NOW)
    assert {(t["key"], t["effect"]) for t in taints} == {
        ("mine", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    }
    ready = {
        **node,
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert wanted_taints(ready, NOW) == [{"key": "mine", "effect": "NoSchedule"}]


def test_eviction_waits_for_toleration_seconds():
    now = datetime.datetime(2026, 11, 28, 12, 0, 4, tzinfo=datetime.UTC)
    taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": NOW}]
    tolerating = {
        "spec": {
            "tolerations": [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 10,
                }
            ]
        }
    }
    assert eviction_delay(tolerating, taints, now) == 6
    assert eviction_delay({"spec": {}}, taints, now) == 0
    forever = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    assert eviction_delay(forever, taints, now) is None


def test_expectations_wait_for_what_was_done():
    expectations = Expectations()
    expectations.expect("k", creates=2, deletes={"u1"})
    expectations.created("k")
    expectations.created("k")
    assert not expectations.satisfied("k")
    expectations.deleted("k", "u1")
    assert expectations.satisfied("k")


def test_deletion_rank_prefers_unscheduled_then_pending_then_unready():
    unscheduled = {"metadata": {}, "spec": {}, "status": {"phase": "Pending"}}
    pending = {"metadata": {}, "spec": {"nodeName": "n"}, "status": {"phase": "Pending"}}
    unready = {"metadata": {}, "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}
    ready = owned_pod("r", {"kind": "ReplicaSet", "metadata": {"uid": "x", "name": "x"}}, {})
    ranked = sorted([ready, unready, pending, unscheduled], key=pc.deletion_rank)
    assert ranked == [unscheduled, pending, unready, ready]


async def test_a_statefulsets_templates_are_kept_as_numbered_revisions():
    from control_plane.controllers.history import REVISION_LABEL

    api = RecordingAPI()
    controller = StatefulSetController(api)  # type: ignore[arg-type]
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "uid": "sts-1",
                     "annotations": {"kubernetes.io/change-cause": "first"}},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": template({"app": "db"})},
    }  # fmt: skip
    feed(controller.sets, sts)
    await controller.reconcile("default/db")
    [(_, path, first)] = api.revisions()
    assert path == "/apis/apps/v1/namespaces/default/controllerrevisions"
    assert first["revision"] == 1 and first["metadata"]["labels"]["app"] == "db"
    assert first["metadata"]["annotations"] == {"kubernetes.io/change-cause": "first"}
    assert first["data"]["spec"]["template"]["$patch"] == "replace"  # what rollout undo applies
    hash_one = first["metadata"]["labels"][REVISION_LABEL]
    assert first["metadata"]["name"] == f"db-{hash_one}"

    # The template changes: revision 2; then back to the first: it becomes revision 3.
    feed(controller.revisions, {**first, "metadata": {**first["metadata"], "uid": "r1"}})
    changed = {**sts, "spec": {**sts["spec"], "template": template({"app": "db"}, hostname="x")}}
    feed(controller.sets, changed)
    controller.expectations.forget("default/db")
    await controller.reconcile("default/db")
    second = api.revisions()[-1][2]
    assert second["revision"] == 2
    feed(controller.revisions, {**second, "metadata": {**second["metadata"], "uid": "r2"}})
    feed(controller.sets, sts)
    controller.expectations.forget("default/db")
    await controller.reconcile("default/db")
    verb, path, patch = api.revisions()[-1]
    assert verb == "patch" and patch == {"revision": 3}
    assert path.endswith(f"/controllerrevisions/db-{hash_one}")
