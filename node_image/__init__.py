"""What runs inside a worker node container: the kubelet (which drives the nested containerd
over CRI and keeps the Node alive over the gRPC node service), kube-proxy, and the files
copied to / in the node image (rootfs/). ``python -m node_image`` is a worker container's
main process (the supervisor).
"""
