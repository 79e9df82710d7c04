"""kube-proxy: Services as iptables rules on every node; this process also keeps the pod routes."""
