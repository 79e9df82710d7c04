"""Cluster state as kube-state-metrics names it: one series family per field of Pods, Nodes
and Deployments, computed from informer caches at each scrape. It runs in the controller
manager's process, on its informers, and serves its own port (kube-state-metrics' 8080)."""
