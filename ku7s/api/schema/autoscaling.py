"""autoscaling/v2 and autoscaling/v1 HorizontalPodAutoscalers, in the schema notation of
ku7s.api.schema (public API field numbers). The two versions share kind names with
different fields, so each has a namespace of its own."""

V2 = """
HorizontalPodAutoscaler
  metadata ObjectMeta 1
  spec HorizontalPodAutoscalerSpec 2
  status HorizontalPodAutoscalerStatus 3

HorizontalPodAutoscalerSpec
  scaleTargetRef CrossVersionObjectReference 1
  minReplicas int32 2
  maxReplicas int32 3
  metrics []MetricSpec 4
  behavior HorizontalPodAutoscalerBehavior 5

CrossVersionObjectReference
  kind string 1
  name string 2
  apiVersion string 3

MetricSpec
  type string 1
  object ObjectMetricSource 2
  pods PodsMetricSource 3
  resource ResourceMetricSource 4
  containerResource ContainerResourceMetricSource 7
  external ExternalMetricSource 5

ObjectMetricSource
  describedObject CrossVersionObjectReference 1
  target MetricTarget 2
  metric MetricIdentifier 3

PodsMetricSource
  metric MetricIdentifier 1
  target MetricTarget 2

ResourceMetricSource
  name string 1
  target MetricTarget 2

ContainerResourceMetricSource
  name string 1
  target MetricTarget 2
  container string 3

ExternalMetricSource
  metric MetricIdentifier 1
  target MetricTarget 2

MetricIdentifier
  name string 1
  selector LabelSelector 2

MetricTarget
  type string 1
  value quantity 2
  averageValue quantity 3
  averageUtilization int32 4

HorizontalPodAutoscalerBehavior
  scaleUp HPAScalingRules 1
  scaleDown HPAScalingRules 2

HPAScalingRules
  stabilizationWindowSeconds int32 3
  selectPolicy string 1
  policies []HPAScalingPolicy 2
  tolerance quantity 4

HPAScalingPolicy
  type string 1
  value int32 2
  periodSeconds int32 3

HorizontalPodAutoscalerStatus
  observedGeneration int64 1
  lastScaleTime time 2
  currentReplicas int32 3
  desiredReplicas int32 4
  currentMetrics []MetricStatus 5
  conditions []HorizontalPodAutoscalerCondition 6 merge:type

MetricStatus
  type string 1
  object ObjectMetricStatus 2
  pods PodsMetricStatus 3
  resource ResourceMetricStatus 4
  containerResource ContainerResourceMetricStatus 7
  external ExternalMetricStatus 5

ObjectMetricStatus
  metric MetricIdentifier 1
  current MetricValueStatus 2
  describedObject CrossVersionObjectReference 3

PodsMetricStatus
  metric MetricIdentifier 1
  current MetricValueStatus 2

ResourceMetricStatus
  name string 1
  current MetricValueStatus 2

ContainerResourceMetricStatus
  name string 1
  current MetricValueStatus 2
  container string 3

ExternalMetricStatus
  metric MetricIdentifier 1
  current MetricValueStatus 2

MetricValueStatus
  value quantity 1
  averageValue quantity 2
  averageUtilization int32 3

HorizontalPodAutoscalerCondition
  type string 1
  status string 2
  lastTransitionTime time 3
  reason string 4
  message string 5
"""

V1 = """
HorizontalPodAutoscaler
  metadata ObjectMeta 1
  spec HorizontalPodAutoscalerSpec 2
  status HorizontalPodAutoscalerStatus 3

HorizontalPodAutoscalerSpec
  scaleTargetRef CrossVersionObjectReference 1
  minReplicas int32 2
  maxReplicas int32 3
  targetCPUUtilizationPercentage int32 4

CrossVersionObjectReference
  kind string 1
  name string 2
  apiVersion string 3

HorizontalPodAutoscalerStatus
  observedGeneration int64 1
  lastScaleTime time 2
  currentReplicas int32 3
  desiredReplicas int32 4
  currentCPUUtilizationPercentage int32 5
"""
