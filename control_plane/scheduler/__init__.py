"""kube-scheduler (arrives with issue 4; this process slot idles until then)."""
