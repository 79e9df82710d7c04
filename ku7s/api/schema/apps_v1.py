"""apps/v1 types, in the schema notation of ku7s.api.schema (public API field numbers)."""

SOURCE = """
Deployment
  metadata ObjectMeta 1
  spec DeploymentSpec 2
  status DeploymentStatus 3

DeploymentSpec
  replicas int32 1
  selector LabelSelector 2
  template PodTemplateSpec 3
  strategy DeploymentStrategy 4 retainKeys
  minReadySeconds int32 5
  revisionHistoryLimit int32 6
  paused bool 7
  progressDeadlineSeconds int32 9

DeploymentStrategy
  type string 1
  rollingUpdate RollingUpdateDeployment 2

RollingUpdateDeployment
  maxUnavailable intstr 1
  maxSurge intstr 2

DeploymentStatus
  observedGeneration int64 1
  replicas int32 2
  updatedReplicas int32 3
  readyReplicas int32 7
  availableReplicas int32 4
  unavailableReplicas int32 5
  terminatingReplicas int32 9
  conditions []DeploymentCondition 6 merge:type
  collisionCount int32 8

DeploymentCondition
  type string 1
  status string 2
  lastUpdateTime time 6
  lastTransitionTime time 7
  reason string 4
  message string 5

ReplicaSet
  metadata ObjectMeta 1
  spec ReplicaSetSpec 2
  status ReplicaSetStatus 3

ReplicaSetSpec
  replicas int32 1
  minReadySeconds int32 4
  selector LabelSelector 2
  template PodTemplateSpec 3

ReplicaSetStatus
  replicas int32 1
  fullyLabeledReplicas int32 2
  readyReplicas int32 4
  availableReplicas int32 5
  terminatingReplicas int32 7
  observedGeneration int64 3
  conditions []WorkloadCondition 6 merge:type

WorkloadCondition
  type string 1
  status string 2
  lastTransitionTime time 3
  reason string 4
  message string 5

DaemonSet
  metadata ObjectMeta 1
  spec DaemonSetSpec 2
  status DaemonSetStatus 3

DaemonSetSpec
  selector LabelSelector 1
  template PodTemplateSpec 2
  updateStrategy DaemonSetUpdateStrategy 3
  minReadySeconds int32 4
  revisionHistoryLimit int32 6

DaemonSetUpdateStrategy
  type string 1
  rollingUpdate RollingUpdateDaemonSet 2

RollingUpdateDaemonSet
  maxUnavailable intstr 1
  maxSurge intstr 2

DaemonSetStatus
  currentNumberScheduled int32 1
  numberMisscheduled int32 2
  desiredNumberScheduled int32 3
  numberReady int32 4
  observedGeneration int64 5
  updatedNumberScheduled int32 6
  numberAvailable int32 7
  numberUnavailable int32 8
  collisionCount int32 9
  conditions []WorkloadCondition 10 merge:type

StatefulSet
  metadata ObjectMeta 1
  spec StatefulSetSpec 2
  status StatefulSetStatus 3

StatefulSetSpec
  replicas int32 1
  selector LabelSelector 2
  template PodTemplateSpec 3
  volumeClaimTemplates []PersistentVolumeClaim 4
  serviceName string 5
  podManagementPolicy string 6
  updateStrategy StatefulSetUpdateStrategy 7
  revisionHistoryLimit int32 8
  minReadySeconds int32 9
  persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy 10
  ordinals StatefulSetOrdinals 11

StatefulSetUpdateStrategy
  type string 1
  rollingUpdate RollingUpdateStatefulSetStrategy 2

RollingUpdateStatefulSetStrategy
  partition int32 1
  maxUnavailable intstr 2

StatefulSetPersistentVolumeClaimRetentionPolicy
  whenDeleted string 1
  whenScaled string 2

StatefulSetOrdinals
  start int32 1

StatefulSetStatus
  observedGeneration int64 1
  replicas int32 2
  readyReplicas int32 3
  currentReplicas int32 4
  updatedReplicas int32 5
  currentRevision string 6
  updateRevision string 7
  collisionCount int32 9
  conditions []WorkloadCondition 10 merge:type
  availableReplicas int32 11
"""

REVISIONS = """
ControllerRevision
  metadata ObjectMeta 1
  data raw 2
  revision int64 3
"""
