"""Who is asking: client certificates, then bearer tokens, otherwise system:anonymous.

The order is kube-apiserver's. A request that presents a credential which does not check
out is refused (401) rather than treated as anonymous, as upstream does.
"""
