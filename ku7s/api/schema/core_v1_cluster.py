"""core/v1 types for running a cluster rather than an app: ReplicationControllers, pod
templates, quotas, limit ranges and persistent volumes, in the schema notation of
ku7s.api.schema (public API field numbers)."""

SOURCE = """
ReplicationController
  metadata ObjectMeta 1
  spec ReplicationControllerSpec 2
  status ReplicationControllerStatus 3

ReplicationControllerSpec
  replicas int32 1
  minReadySeconds int32 4
  selector map[string] 2
  template PodTemplateSpec 3

ReplicationControllerStatus
  replicas int32 1
  fullyLabeledReplicas int32 2
  readyReplicas int32 4
  availableReplicas int32 5
  observedGeneration int64 3
  conditions []ReplicationControllerCondition 6 merge:type

ReplicationControllerCondition
  type string 1
  status string 2
  lastTransitionTime time 3
  reason string 4
  message string 5

PodTemplate
  metadata ObjectMeta 1
  template PodTemplateSpec 2

ResourceQuota
  metadata ObjectMeta 1
  spec ResourceQuotaSpec 2
  status ResourceQuotaStatus 3

ResourceQuotaSpec
  hard map[quantity] 1
  scopes []string 2
  scopeSelector ScopeSelector 3

ScopeSelector
  matchExpressions []ScopedResourceSelectorRequirement 1

ScopedResourceSelectorRequirement
  scopeName string 1
  operator string 2
  values []string 3

ResourceQuotaStatus
  hard map[quantity] 1
  used map[quantity] 2

LimitRange
  metadata ObjectMeta 1
  spec LimitRangeSpec 2

LimitRangeSpec
  limits []LimitRangeItem 1

LimitRangeItem
  type string 1
  max map[quantity] 2
  min map[quantity] 3
  default map[quantity] 4
  defaultRequest map[quantity] 5
  maxLimitRequestRatio map[quantity] 6

PersistentVolume
  metadata ObjectMeta 1
  spec PersistentVolumeSpec 2
  status PersistentVolumeStatus 3

PersistentVolumeSpec
  capacity map[quantity] 1
  - PersistentVolumeSource 2
  accessModes []string 3
  claimRef ObjectReference 4
  persistentVolumeReclaimPolicy string 5
  storageClassName string 6
  mountOptions []string 7
  volumeMode string 8
  nodeAffinity VolumeNodeAffinity 9
  volumeAttributesClassName string 10

PersistentVolumeSource
  gcePersistentDisk raw 1
  awsElasticBlockStore raw 2
  hostPath HostPathVolumeSource 3
  nfs NFSVolumeSource 5
  iscsi raw 7
  fc raw 10
  local LocalVolumeSource 20
  csi CSIPersistentVolumeSource 22

LocalVolumeSource
  path string 1
  fsType string 2

CSIPersistentVolumeSource
  driver string 1
  volumeHandle string 2
  readOnly bool 3
  fsType string 4
  volumeAttributes map[string] 5
  controllerPublishSecretRef SecretReference 6
  nodeStageSecretRef SecretReference 7
  nodePublishSecretRef SecretReference 8
  controllerExpandSecretRef SecretReference 9
  nodeExpandSecretRef SecretReference 10

SecretReference
  name string 1
  namespace string 2

VolumeNodeAffinity
  required NodeSelector 1

PersistentVolumeStatus
  phase string 1
  message string 2
  reason string 3
  lastPhaseTransitionTime time 4
"""
