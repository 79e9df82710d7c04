"""The ClusterRole aggregation controller: a ClusterRole with an ``aggregationRule`` gets
the rules of every ClusterRole its selectors match (how ``admin``, ``edit`` and ``view``
grow when an operator installs roles labelled ``aggregate-to-view``)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ku7s.api.selectors import from_label_selector
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

log = logging.getLogger("clusterrole-aggregation-controller")

Object = dict[str, Any]
PATH = "/apis/rbac.authorization.k8s.io/v1/clusterroles"


def aggregated_rules(role: Object, roles: list[Object]) -> list[Object]:
    """The rules of the roles the aggregation rule selects, in name order, each once."""
    selectors = [
        from_label_selector(s)
        for s in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    ]
    rules: list[Object] = []
    for other in sorted(roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == role["metadata"]["name"]:
            continue
        labels = other["metadata"].get("labels") or {}
        if not any(s.matches(labels) for s in selectors):
            continue
        for rule in other.get("rules") or []:
            if rule not in rules:
                rules.append(rule)
    return rules


class ClusterRoleAggregationController(Controller):
    name: ClassVar[str] = "clusterrole-aggregation"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 1
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.roles = self.factory.informer(PATH)
        self.roles.on_change(self._changed)
        self.informers = [self.roles]

    def _changed(self, event: str, role: Object) -> None:
        # Any role may be selected by any aggregating one: look at all of those again.
        for candidate in self.roles.list():
            if candidate.get("aggregationRule"):
                self.queue.add(candidate["metadata"]["name"])

    async def reconcile(self, key: str) -> None:
        role = self.roles.get(key)
        if role is None or not role.get("aggregationRule"):
            return
        rules = aggregated_rules(role, self.roles.list())
        if rules == (role.get("rules") or []):
            return
        try:
            await self.client.replace(f"{PATH}/{key}", {**role, "rules": rules})
        except APIStatusError as e:
            if e.code != 404:
                raise
        log.info("clusterrole %s now aggregates %d rules", key, len(rules))
