"""kube-controller-manager (arrives with issue 4; this process slot idles until then)."""
