"""A gauge or counter family under construction: rows added by label values, as every
kube-state-metrics series is built."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class Family:
    def __init__(self, name: str, text: str, labels: list[str], counter: bool = False) -> None:
        self.labels = labels
        self.metric: CounterMetricFamily | GaugeMetricFamily
        if counter:
            self.metric = CounterMetricFamily(name.removesuffix("_total"), text, labels=labels)
        else:
            self.metric = GaugeMetricFamily(name, text, labels=labels)

    def add(self, value: float, /, **labels: str) -> None:
        self.metric.add_metric([labels.get(name, "") for name in self.labels], value)
