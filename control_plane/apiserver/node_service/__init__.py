"""The gRPC node service (proto/node.proto) that kubelets join and stay connected through.

Join trades the bootstrap token for a client certificate; Connect is the kubelet's session:
its first message registers the Node (the service assigns the pod CIDR and creates the
Node and its Lease), then heartbeats renew the Lease and report readiness. A broken stream
makes the Node NotReady at once; the lease monitor covers a silent network.
"""
