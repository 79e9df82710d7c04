"""A pod's eviction subresource (policy/v1 Eviction), as upstream's EvictionREST: a delete
that first asks the pod's PodDisruptionBudget. A budget with no disruption left answers
429, which ``kubectl drain`` retries until the app has recovered elsewhere."""

from __future__ import annotations

from control_plane.apiserver import errors
from control_plane.apiserver.kinds.base import Object
from control_plane.apiserver.registry import DeleteOptions, ListOptions, Registry
from ku7s.api import meta
from ku7s.api.disruption_budgets import budget_selects

#: Upstream bounds the evictions a budget remembers before its controller catches up.
MAX_DISRUPTED_PODS = 2000
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def _too_many_requests(cause: str) -> errors.APIError:
    return errors.APIError(
        429,
        "TooManyRequests",
        VIOLATION,
        {"causes": [{"reason": "DisruptionBudget", "message": cause}]},
    )


class EvictionREST:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def create(self, namespace: str, name: str, options: DeleteOptions) -> None:
        registry = self._registry
        pods = registry.kinds.get("pods")
        pod = await registry.get(pods, namespace, name)
        if not self._guarded(pod):
            await registry.delete(pods, namespace, name, options)
            return
        budgets_kind = registry.kinds.get("poddisruptionbudgets", "policy")
        budgets = [
            b
            for b in (await registry.list(budgets_kind, namespace, ListOptions())).items
            if budget_selects(b, pod)
        ]
        if len(budgets) > 1:
            raise errors.internal(
                "This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support."
            )
        if budgets:
            budget = budgets[0]
            if not self._unhealthy_may_go(budget, pod):

                def take_one(current: Object) -> Object:
                    self._check(current)
                    status = current.setdefault("status", {})
                    status["disruptionsAllowed"] = int(status.get("disruptionsAllowed", 0)) - 1
                    disrupted = status.setdefault("disruptedPods", {})
                    disrupted[name] = meta.now_rfc3339()
                    return current

                await registry.mutate(
                    budgets_kind,
                    namespace,
                    meta.name_of(budget),
                    take_one,
                    "status",
                    dry_run=options.dry_run,
                )
        await registry.delete(pods, namespace, name, options)

    @staticmethod
    def _guarded(pod: Object) -> bool:
        """Only running pods that are not being deleted are protected by a budget."""
        phase = (pod.get("status") or {}).get("phase")
        return phase not in ("Succeeded", "Failed", "Pending") and not pod["metadata"].get(
            "deletionTimestamp"
        )

    @staticmethod
    def _unhealthy_may_go(budget: Object, pod: Object) -> bool:
        """An unready pod leaves without using up the budget when the app is healthy
        enough anyway (IfHealthyBudget), or always (AlwaysAllow)."""
        if meta.is_ready(pod):
            return False
        spec, status = budget.get("spec") or {}, budget.get("status") or {}
        if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
            return True
        desired = int(status.get("desiredHealthy", 0))
        return desired > 0 and int(status.get("currentHealthy", 0)) >= desired

    @staticmethod
    def _check(budget: Object) -> None:
        status = budget.get("status") or {}
        name = meta.name_of(budget)
        if int(status.get("observedGeneration", 0)) < int(budget["metadata"].get("generation", 1)):
            raise _too_many_requests(
                f"The disruption budget {name} is still being processed by the server."
            )
        allowed = int(status.get("disruptionsAllowed", 0))
        if allowed < 0:
            raise errors.forbidden(
                "poddisruptionbudgets", name, "pdb disruptions allowed is negative", "policy"
            )
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise errors.forbidden(
                "poddisruptionbudgets",
                name,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                "policy",
            )
        if allowed == 0:
            raise _too_many_requests(
                f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy "
                f"pods and has {status.get('currentHealthy', 0)} currently"
            )
