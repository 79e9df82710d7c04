"""Workloads the e2e tests and the benchmarks both apply, as kubectl's List."""

from __future__ import annotations

import json


def load_balanced_web(services: int) -> str:
    """A Deployment of nginx and `services` Services of type LoadBalancer in front of it."""
    items: list[dict[str, object]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
                },
            },
        }
    ]
    items += [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"lb{i}", "namespace": "default"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "web"},
                "ports": [{"port": 80 + i, "targetPort": 80}],
            },
        }
        for i in range(services)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
