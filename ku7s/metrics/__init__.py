"""Prometheus metrics of the components: each component keeps its own registry (handed in
through its constructor) and serves it with ``MetricsEndpoint``; the series carry the
upstream names, labels and buckets, so dashboards built here work on real clusters."""
