"""policy/v1 (disruption budgets, evictions), scheduling.k8s.io/v1 (priority classes) and
node.k8s.io/v1 (runtime classes), in the schema notation of ku7s.api.schema (public API
field numbers)."""

POLICY = """
PodDisruptionBudget
  metadata ObjectMeta 1
  spec PodDisruptionBudgetSpec 2
  status PodDisruptionBudgetStatus 3

PodDisruptionBudgetSpec
  minAvailable intstr 1
  selector LabelSelector 2
  maxUnavailable intstr 3
  unhealthyPodEvictionPolicy string 4

PodDisruptionBudgetStatus
  observedGeneration int64 1
  disruptedPods map[time] 2
  disruptionsAllowed int32 3
  currentHealthy int32 4
  desiredHealthy int32 5
  expectedPods int32 6
  conditions []Condition 7 merge:type

Eviction
  metadata ObjectMeta 1
  deleteOptions DeleteOptions 2
"""

SCHEDULING = """
PriorityClass
  metadata ObjectMeta 1
  value int32 2
  globalDefault bool 3
  description string 4
  preemptionPolicy string 5
"""

NODE = """
RuntimeClass
  metadata ObjectMeta 1
  handler string 2
  overhead Overhead 3
  scheduling Scheduling 4

Overhead
  podFixed map[quantity] 1

Scheduling
  nodeSelector map[string] 1
  tolerations []Toleration 2
"""
