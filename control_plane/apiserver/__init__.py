"""kube-apiserver: the Kubernetes REST API over HTTPS, stored in etcd, plus the gRPC node
service that kubelets join and stay connected through.

Data flow: aiohttp handlers (handlers.py) authenticate the caller (auth.py), resolve the
resource type (resources.py), and call the Registry (registry.py), which applies Kubernetes
object semantics (uid, timestamps, resourceVersion preconditions, generation) on top of the
etcd Storage (storage.py). Watches stream etcd events through the same registry. The node
service (nodes/) uses the Registry directly to keep Node and Lease objects current.
"""
