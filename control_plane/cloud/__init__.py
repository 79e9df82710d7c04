"""cloud-controller-manager (arrives with issue 5; this process slot idles until then)."""
