"""kube-scheduler: binds each pod without a node to a node where it fits."""
