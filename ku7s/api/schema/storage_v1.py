"""storage.k8s.io/v1 types (StorageClass, CSIDriver, CSINode, VolumeAttachment), in the
schema notation of ku7s.api.schema (public API field numbers)."""

SOURCE = """
StorageClass
  metadata ObjectMeta 1
  provisioner string 2
  parameters map[string] 3
  reclaimPolicy string 4
  mountOptions []string 5
  allowVolumeExpansion bool 6
  volumeBindingMode string 7
  allowedTopologies []TopologySelectorTerm 8

TopologySelectorTerm
  matchLabelExpressions []TopologySelectorLabelRequirement 1

TopologySelectorLabelRequirement
  key string 1
  values []string 2

CSIDriver
  metadata ObjectMeta 1
  spec CSIDriverSpec 2

CSIDriverSpec
  attachRequired bool 1
  podInfoOnMount bool 2
  volumeLifecycleModes []string 3
  storageCapacity bool 4
  fsGroupPolicy string 5
  tokenRequests []TokenRequest 6
  requiresRepublish bool 7
  seLinuxMount bool 8
  nodeAllocatableUpdatePeriodSeconds int64 9

TokenRequest
  audience string 1
  expirationSeconds int64 2

CSINode
  metadata ObjectMeta 1
  spec CSINodeSpec 2

CSINodeSpec
  drivers []CSINodeDriver 1 merge:name

CSINodeDriver
  name string 1
  nodeID string 2
  topologyKeys []string 3
  allocatable VolumeNodeResources 4

VolumeNodeResources
  count int32 1

VolumeAttachment
  metadata ObjectMeta 1
  spec VolumeAttachmentSpec 2
  status VolumeAttachmentStatus 3

VolumeAttachmentSpec
  attacher string 1
  source VolumeAttachmentSource 2
  nodeName string 3

VolumeAttachmentSource
  persistentVolumeName string 1
  inlineVolumeSpec raw 2

VolumeAttachmentStatus
  attached bool 1
  attachmentMetadata map[string] 2
  attachError VolumeError 3
  detachError VolumeError 4

VolumeError
  time time 1
  message string 2
  errorCode int32 3
"""
