"""meta/v1 and the apimachinery helper types, in the schema notation of ku7s.api.schema."""

SOURCE = """
ObjectMeta
  name string 1
  generateName string 2
  namespace string 3
  selfLink string 4
  uid string 5
  resourceVersion string 6
  generation int64 7
  creationTimestamp time 8
  deletionTimestamp time 9
  deletionGracePeriodSeconds int64 10
  labels map[string] 11
  annotations map[string] 12
  ownerReferences []OwnerReference 13 merge:uid
  finalizers []string 14 merge
  managedFields []ManagedFieldsEntry 17

OwnerReference
  apiVersion string 5
  kind string 1
  name string 3
  uid string 4
  controller bool 6
  blockOwnerDeletion bool 7

ManagedFieldsEntry
  manager string 1
  operation string 2
  apiVersion string 3
  time time 4
  fieldsType string 6
  fieldsV1 raw 7
  subresource string 8

LabelSelector
  matchLabels map[string] 1
  matchExpressions []LabelSelectorRequirement 2

LabelSelectorRequirement
  key string 1
  operator string 2
  values []string 3

Condition
  type string 1
  status string 2
  observedGeneration int64 3
  lastTransitionTime time 4
  reason string 5
  message string 6

Preconditions
  uid string 1
  resourceVersion string 2

DeleteOptions
  gracePeriodSeconds int64 1
  preconditions Preconditions 2
  orphanDependents bool 3
  propagationPolicy string 4
  dryRun []string 5
  ignoreStoreReadErrorWithClusterBreakingPotential bool 6

Scale
  metadata ObjectMeta 1
  spec ScaleSpec 2
  status ScaleStatus 3

ScaleSpec
  replicas int32 1

ScaleStatus
  replicas int32 1
  selector string 2
"""
