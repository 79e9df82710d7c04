"""kube-controller-manager: controllers that watch the API and reconcile it.

Each controller follows the Kubernetes pattern: informers keep a cache and only enqueue
keys; workers take a key, re-read the cache, act through the API and requeue with back-off
on error (base.py). Today it runs the namespace controller; the workload, node lifecycle
and garbage-collection controllers join it with the next issue.
"""
