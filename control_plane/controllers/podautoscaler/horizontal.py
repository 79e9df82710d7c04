"""The HorizontalPodAutoscaler controller: every sync period (15 s, upstream's default)
each autoscaler reads its target's scale subresource and its pods' metrics from
metrics.k8s.io, works out the replicas each metric asks for, takes the largest, passes it
through the behavior (stabilization and rate policies) and the min/max bounds, and writes
the target's scale; status carries the current metrics and upstream's three conditions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import quote

from control_plane.controllers.pod_owner import pod_informer
from control_plane.controllers.podautoscaler.replica_calculator import (
    MetricsUnavailable,
    Proposal,
    resource_replicas,
)
from control_plane.controllers.podautoscaler.scaling_behavior import ScalingBehavior
from ku7s.api import meta
from ku7s.api.selectors import LabelSelector, SelectorError
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("horizontal-pod-autoscaler")

SYNC_PERIOD = 15.0
#: How long what discovery said about a kind is believed.
DISCOVERY_TTL = 60.0
_UNSUPPORTED = {
    "Pods": "FailedGetPodsMetric",
    "Object": "FailedGetObjectMetric",
    "External": "FailedGetExternalMetric",
}


#: Upstream's condition messages, by reason.
MESSAGES = {
    "SucceededGetScale": "the HPA controller was able to get the target's current scale",
    "ScalingDisabled": "scaling is disabled since the replica count of the target is zero",
    "TooManyReplicas": "the desired replica count is more than the maximum replica count",
    "TooFewReplicas": "the desired replica count is less than the minimum replica count",
    "DesiredWithinRange": "the desired count is within the acceptable range",
    "ReadyForNewScale": "recommended size matches current size",
    "SucceededRescale": "the HPA controller was able to update the target scale to {}",
    "ValidMetricFound": "the HPA was able to successfully calculate a replica count from {}",
    "FailedGetScale": "the HPA controller was unable to get the target's current scale: {}",
    "FailedCompute": "the HPA was unable to compute the replica count: {}",
}


def _condition(kind: str, status: str, reason: str, detail: object = "") -> Object:
    message = MESSAGES.get(reason, "{}").format(detail)
    return {"type": kind, "status": status, "reason": reason, "message": message}


def _metric_text(metric: Object) -> str:
    kind = metric.get("type")
    if kind == "ContainerResource":
        source = metric.get("containerResource") or {}
    else:
        source = metric.get("resource") or {}
    name = source.get("name", "")
    if (source.get("target") or {}).get("type") == "AverageValue":
        return f"{name} resource"
    return f"{name} resource utilization (percentage of request)"


class HorizontalPodAutoscalerController(Controller):
    name: ClassVar[str] = "horizontalpodautoscaler"

    def __init__(
        self,
        client: APIClient,
        informers: InformerFactory | None = None,
        *,
        workers: int = 4,
        sync_period: float = SYNC_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.autoscalers = self.factory.informer("/apis/autoscaling/v2/horizontalpodautoscalers")
        self.pods = pod_informer(self.factory)
        self.autoscalers.on_change(self._changed)
        self.informers = [self.autoscalers, self.pods]
        self._sync_period = sync_period
        self._clock = clock
        self.behavior = ScalingBehavior()
        self._events = EventRecorder(client, "horizontal-pod-autoscaler")
        #: (apiVersion, kind) -> (plural with a scale subresource or None, when asked)
        self._plurals: dict[tuple[str, str], tuple[str | None, float]] = {}

    def _changed(self, event: str, hpa: Object) -> None:
        key = object_key(hpa)
        if event == "DELETED":
            self.behavior.forget(key)
        else:
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        hpa = self.autoscalers.get(key)
        if hpa is None:
            return
        try:
            await self.sync(hpa)
        finally:
            self.queue.add_after(key, self._sync_period)

    async def sync(self, hpa: Object) -> None:
        spec = hpa.get("spec") or {}
        key = object_key(hpa)
        ref = spec.get("scaleTargetRef") or {}
        status: Object = dict(hpa.get("status") or {})
        path = await self._scale_path(meta.namespace_of(hpa), ref)
        scale: Object | None = None
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        problem = f'no matches for kind "{ref.get("kind")}" in group "{group}"'
        if path is not None:
            try:
                scale = await self.client.get(path)
            except APIStatusError as e:
                problem = str(e)
        if path is None or scale is None:
            condition = _condition("AbleToScale", "False", "FailedGetScale", problem)
            self._events.record(hpa, "Warning", "FailedGetScale", condition["message"])
            await self._write(hpa, status, [condition])
            return
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        status["currentReplicas"] = int((scale.get("status") or {}).get("replicas") or 0)
        low, high = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))
        got_scale = _condition("AbleToScale", "True", "SucceededGetScale")
        if current == 0 and low > 0:
            status["desiredReplicas"] = 0
            disabled = _condition("ScalingActive", "False", "ScalingDisabled")
            await self._write(hpa, status, [got_scale, disabled])
            return
        selector = (scale.get("status") or {}).get("selector", "")
        proposals, failure = await self._proposals(hpa, current, selector)
        if not proposals:
            assert failure is not None
            self._events.record(hpa, "Warning", failure.reason, str(failure))
            inactive = _condition("ScalingActive", "False", "FailedCompute", failure)
            inactive["reason"] = failure.reason
            status["desiredReplicas"] = current
            await self._write(hpa, status, [got_scale, inactive])
            return
        metric, proposal = max(proposals, key=lambda pair: pair[1].replicas)
        now = self._clock()
        decided = self.behavior.decide(key, spec, current, proposal.replicas, now)
        desired = min(max(decided, low), high)
        if decided > high:
            limited = _condition("ScalingLimited", "True", "TooManyReplicas")
        elif decided < low:
            limited = _condition("ScalingLimited", "True", "TooFewReplicas")
        else:
            limited = _condition("ScalingLimited", "False", "DesiredWithinRange")
        if desired != current:
            await self.client.patch(path, {"spec": {"replicas": desired}})
            self.behavior.scaled(key, current, desired, now)
            if desired > current:
                why = f"{_metric_text(metric)} above target"
            else:
                why = "All metrics below target"
            message = f"New size: {desired}; reason: {why}"
            self._events.record(hpa, "Normal", "SuccessfulRescale", message)
            status["lastScaleTime"] = meta.now_rfc3339()
            able = _condition("AbleToScale", "True", "SucceededRescale", desired)
        else:
            able = _condition("AbleToScale", "True", "ReadyForNewScale")
        active = _condition("ScalingActive", "True", "ValidMetricFound", _metric_text(metric))
        status["desiredReplicas"] = desired
        status["currentMetrics"] = [self._current(m, p) for m, p in proposals]
        await self._write(hpa, status, [able, active, limited])

    async def _proposals(
        self, hpa: Object, current: int, selector: str
    ) -> tuple[list[tuple[Object, Proposal]], MetricsUnavailable | None]:
        """What each metric asks for; the last failure when none could be worked out."""
        namespace = meta.namespace_of(hpa)
        try:
            chosen = LabelSelector.parse(selector)
        except SelectorError as e:
            return [], MetricsUnavailable("InvalidSelector", str(e))
        pods = [
            p
            for p in self.pods.by_index("namespace", namespace)
            if chosen.matches(meta.labels_of(p))
        ]
        metrics: dict[str, Object] | None = None
        proposals: list[tuple[Object, Proposal]] = []
        failure: MetricsUnavailable | None = None
        for metric in (hpa.get("spec") or {}).get("metrics") or []:
            kind = metric.get("type")
            if kind not in ("Resource", "ContainerResource"):
                failure = MetricsUnavailable(
                    _UNSUPPORTED.get(str(kind), "FailedGetMetric"),
                    f"unable to get {kind} metric: no custom metrics API "
                    "(custom.metrics.k8s.io) is registered",
                )
                continue
            if metrics is None:
                try:
                    metrics = await self._pod_metrics(namespace, selector)
                except APIStatusError as e:
                    return [], MetricsUnavailable(
                        "FailedGetResourceMetric",
                        f"unable to fetch metrics from resource metrics API: {e}",
                    )
            source = (
                metric.get("resource") if kind == "Resource" else metric.get("containerResource")
            )
            source = source or {}
            try:
                proposal = resource_replicas(
                    current,
                    source.get("target") or {},
                    source.get("name", ""),
                    pods,
                    metrics,
                    source.get("container") if kind == "ContainerResource" else None,
                )
            except MetricsUnavailable as e:
                failure = e
                continue
            proposals.append((metric, proposal))
        return proposals, failure

    async def _pod_metrics(self, namespace: str, selector: str) -> dict[str, Object]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
        listed = await self.client.get(path, {"labelSelector": selector} if selector else None)
        return {m["metadata"]["name"]: m for m in listed.get("items") or []}

    @staticmethod
    def _current(metric: Object, proposal: Proposal) -> Object:
        kind = metric["type"]
        field = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(field) or {}
        current: Object = {"name": source.get("name"), "current": proposal.current}
        if kind == "ContainerResource":
            current["container"] = source.get("container")
        return {"type": kind, field: current}

    async def _scale_path(self, namespace: str, ref: Object) -> str | None:
        """The target's scale subresource, found through discovery (so custom resources
        with a scale subresource work too); None for a kind without one."""
        api_version, kind = str(ref.get("apiVersion") or "v1"), str(ref.get("kind", ""))
        plural, asked = self._plurals.get((api_version, kind), (None, -DISCOVERY_TTL))
        if self._clock() - asked >= DISCOVERY_TTL:
            plural = None
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                resources = (await self.client.get(base)).get("resources") or []
            except APIStatusError:
                resources = []
            names = {r.get("name") for r in resources}
            for resource in resources:
                name = str(resource.get("name", ""))
                if resource.get("kind") == kind and "/" not in name and f"{name}/scale" in names:
                    plural = name
            self._plurals[(api_version, kind)] = (plural, self._clock())
        if plural is None:
            return None
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        return f"{base}/namespaces/{namespace}/{plural}/{quote(str(ref.get('name', '')))}/scale"

    async def _write(self, hpa: Object, status: Object, conditions: list[Object]) -> None:
        old = hpa.get("status") or {}
        now = meta.now_rfc3339()
        previous = {c.get("type"): c for c in old.get("conditions") or []}
        for condition in conditions:
            before = previous.get(condition["type"]) or {}
            same = before.get("status") == condition["status"]
            condition["lastTransitionTime"] = before.get("lastTransitionTime") if same else now
        status["conditions"] = conditions
        status["observedGeneration"] = hpa["metadata"].get("generation", 1)
        if status == old:
            return
        path = (
            f"/apis/autoscaling/v2/namespaces/{meta.namespace_of(hpa)}/horizontalpodautoscalers/"
            f"{meta.name_of(hpa)}/status"
        )
        try:
            await self.client.replace(path, {**hpa, "status": status})
        except APIStatusError as e:
            if e.code not in (404, 409):
                raise
