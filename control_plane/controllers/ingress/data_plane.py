"""The built-in ingress controller's data plane: nginx (the nginx image every node has)
in a DaemonSet on the workers, behind a Service of type LoadBalancer from the mock cloud.

The configuration comes in a ConfigMap and a Secret (TLS certificates) mounted into each
pod; the controller touches the pods when it writes them, so their kubelets refresh the
files at once, and a loop in the container reloads nginx (never restarts it) when they
change, after ``nginx -t`` accepts them.
"""

from __future__ import annotations

from typing import Any

from control_plane.controllers.ingress.nginx_config import CERTS_DIR, CONFIG_DIR, HEALTH_PORT
from ku7s.api.ingresses import NAME, NAMESPACE

Object = dict[str, Any]

LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "controller"}
CONFIG_MAP = "ku7s-ingress-config"
CERTS_SECRET = "ku7s-ingress-certs"
#: On the pods: the digest of the configuration they should serve.
CONFIG_ANNOTATION = "ingress.ku7s.dev/config"

RELOAD_LOOP = f"""
conf={CONFIG_DIR}/nginx.conf
until [ -s "$conf" ]; do sleep 0.2; done
stamp() {{ cat "$conf" {CERTS_DIR}/* 2>/dev/null | md5sum; }}
last=$(stamp)
nginx -c "$conf" || exit 1
trap 'nginx -c "$conf" -s quit; exit 0' TERM INT
while sleep 0.3; do
  kill -0 "$(cat /tmp/nginx.pid 2>/dev/null)" 2>/dev/null || exit 1
  now=$(stamp)
  [ "$now" = "$last" ] && continue
  # A configuration nginx refuses is not tried again until the next change.
  last=$now
  nginx -t -q -c "$conf" && nginx -c "$conf" -s reload && echo reloaded
done
"""


def namespace() -> Object:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}


def daemon_set() -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx",
                            "command": ["sh", "-c", RELOAD_LOOP],
                            "ports": [
                                {"name": "http", "containerPort": 80},
                                {"name": "https", "containerPort": 443},
                                {"name": "health", "containerPort": HEALTH_PORT},
                            ],
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": HEALTH_PORT},
                                "periodSeconds": 2,
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                {"name": "certs", "mountPath": CERTS_DIR, "readOnly": True},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": CONFIG_MAP}},
                        {"name": "certs", "secret": {"secretName": CERTS_SECRET, "optional": True}},
                    ],
                },
            },
        },
    }


def service() -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "type": "LoadBalancer",
            "selector": LABELS,
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"},
            ],
        },
    }
