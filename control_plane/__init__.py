"""The control plane of a ku7s cluster: kube-apiserver (with etcd behind it and the gRPC node
service beside it), kube-scheduler, kube-controller-manager and cloud-controller-manager.

Only control_plane.apiserver talks to etcd; every other component is an API client.
``python -m control_plane`` is the control-plane container's main process (the supervisor).
"""
