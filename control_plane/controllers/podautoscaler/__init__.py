"""The horizontal pod autoscaler: its controller, the replica calculator (what the metrics
ask for) and the scaling behavior (stabilization windows and rate policies)."""
