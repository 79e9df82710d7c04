"""The metrics port of each component, apart from the endpoint so that a process which only
needs the numbers (the control plane's supervisor, the CLI) does not import a web server."""

from __future__ import annotations

#: The upstream port of each component, kept for the same component here.
PORTS = {
    "kube-controller-manager": 10257,
    "kube-scheduler": 10259,
    "kube-proxy": 10249,
    "kubelet": 10255,
    "cloud-controller-manager": 10258,
    "cluster-dns": 9153,
    "etcd": 2381,
    "kube-state-metrics": 8080,
}
