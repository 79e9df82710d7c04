"""The ku7s kubelet.

It checks the container runtime through the CRI gRPC API (cri.py), preloads the project's
images into containerd (images.py), joins the control plane with its bootstrap token
(credentials.py), and keeps one gRPC session open (session.py): registration with the
node's capacity, addresses and system info (node_info.py), then heartbeats carrying the
runtime's readiness. The pod CIDR assigned at registration becomes the CNI config (cni.py).
"""
