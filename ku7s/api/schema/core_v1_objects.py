"""core/v1 types of pods' specs and statuses, volumes, nodes, namespaces, services,
endpoints, config and events, in the schema notation of ku7s.api.schema.

Field names and protobuf field numbers are those of the public Kubernetes API. Volume
sources of cloud providers are left out; a pod that uses one is accepted as free-form JSON.
"""

SOURCE = """
Pod
  metadata ObjectMeta 1
  spec PodSpec 2
  status PodStatus 3

PodSpec
  volumes []Volume 1 merge,retainKeys:name
  initContainers []Container 20 merge:name
  containers []Container 2 merge:name
  ephemeralContainers []EphemeralContainer 34 merge:name
  restartPolicy string 3
  terminationGracePeriodSeconds int64 4
  activeDeadlineSeconds int64 5
  dnsPolicy string 6
  nodeSelector map[string] 7
  serviceAccountName string 8
  serviceAccount string 9
  automountServiceAccountToken bool 21
  nodeName string 10
  hostNetwork bool 11
  hostPID bool 12
  hostIPC bool 13
  shareProcessNamespace bool 27
  securityContext PodSecurityContext 14
  imagePullSecrets []LocalObjectReference 15 merge:name
  hostname string 16
  subdomain string 17
  affinity Affinity 18
  schedulerName string 19
  tolerations []Toleration 22
  hostAliases []HostAlias 23 merge:ip
  priorityClassName string 24
  priority int32 25
  dnsConfig PodDNSConfig 26
  readinessGates []PodReadinessGate 28
  runtimeClassName string 29
  enableServiceLinks bool 30
  preemptionPolicy string 31
  overhead map[quantity] 32
  topologySpreadConstraints []TopologySpreadConstraint 33 merge:topologyKey
  setHostnameAsFQDN bool 35
  os PodOS 36
  hostUsers bool 37
  schedulingGates []PodSchedulingGate 38 merge:name
  resourceClaims []PodResourceClaim 39 merge,retainKeys:name
  resources ResourceRequirements 40
  hostnameOverride string 41

PodOS
  name string 1

PodSchedulingGate
  name string 1

PodResourceClaim
  name string 1
  resourceClaimName string 3
  resourceClaimTemplateName string 4

PodReadinessGate
  conditionType string 1

PodDNSConfig
  nameservers []string 1
  searches []string 2
  options []PodDNSConfigOption 3

PodDNSConfigOption
  name string 1
  value string 2

HostAlias
  ip string 1
  hostnames []string 2

Toleration
  key string 1
  operator string 2
  value string 3
  effect string 4
  tolerationSeconds int64 5

Taint
  key string 1
  value string 2
  effect string 3
  timeAdded time 4

TopologySpreadConstraint
  maxSkew int32 1
  topologyKey string 2
  whenUnsatisfiable string 3
  labelSelector LabelSelector 4
  minDomains int32 5
  nodeAffinityPolicy string 6
  nodeTaintsPolicy string 7
  matchLabelKeys []string 8

Affinity
  nodeAffinity NodeAffinity 1
  podAffinity PodAffinity 2
  podAntiAffinity PodAntiAffinity 3

NodeAffinity
  requiredDuringSchedulingIgnoredDuringExecution NodeSelector 1
  preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm 2

NodeSelector
  nodeSelectorTerms []NodeSelectorTerm 1

NodeSelectorTerm
  matchExpressions []NodeSelectorRequirement 1
  matchFields []NodeSelectorRequirement 2

NodeSelectorRequirement
  key string 1
  operator string 2
  values []string 3

PreferredSchedulingTerm
  weight int32 1
  preference NodeSelectorTerm 2

PodAffinity
  requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm 1
  preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm 2

PodAntiAffinity
  requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm 1
  preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm 2

PodAffinityTerm
  labelSelector LabelSelector 1
  namespaces []string 2
  topologyKey string 3
  namespaceSelector LabelSelector 4
  matchLabelKeys []string 5
  mismatchLabelKeys []string 6

WeightedPodAffinityTerm
  weight int32 1
  podAffinityTerm PodAffinityTerm 2

PodStatus
  observedGeneration int64 17
  phase string 1
  conditions []PodCondition 2 merge:type
  message string 3
  reason string 4
  nominatedNodeName string 11
  hostIP string 5
  hostIPs []HostIP 16
  podIP string 6
  podIPs []PodIP 12 merge:ip
  startTime time 7
  initContainerStatuses []ContainerStatus 10
  containerStatuses []ContainerStatus 8
  qosClass string 9
  ephemeralContainerStatuses []ContainerStatus 13
  resize string 14
  resourceClaimStatuses []raw 15

PodCondition
  type string 1
  observedGeneration int64 7
  status string 2
  lastProbeTime time 3
  lastTransitionTime time 4
  reason string 5
  message string 6

PodIP
  ip string 1

HostIP
  ip string 1

PodTemplateSpec
  metadata ObjectMeta 1
  spec PodSpec 2

Volume
  name string 1
  - VolumeSource 2

VolumeSource
  hostPath HostPathVolumeSource 1
  emptyDir EmptyDirVolumeSource 2
  gcePersistentDisk raw 3
  awsElasticBlockStore raw 4
  gitRepo GitRepoVolumeSource 5
  secret SecretVolumeSource 6
  nfs NFSVolumeSource 7
  iscsi raw 8
  glusterfs raw 9
  persistentVolumeClaim PersistentVolumeClaimVolumeSource 10
  rbd raw 11
  flexVolume raw 12
  cinder raw 13
  cephfs raw 14
  flocker raw 15
  downwardAPI DownwardAPIVolumeSource 16
  fc raw 17
  azureFile raw 18
  configMap ConfigMapVolumeSource 19
  vsphereVolume raw 20
  quobyte raw 21
  azureDisk raw 22
  photonPersistentDisk raw 23
  projected ProjectedVolumeSource 26
  portworxVolume raw 24
  scaleIO raw 25
  storageos raw 27
  csi CSIVolumeSource 28
  ephemeral EphemeralVolumeSource 29
  image ImageVolumeSource 30

HostPathVolumeSource
  path string 1
  type string 2

EmptyDirVolumeSource
  medium string 1
  sizeLimit quantity 2

GitRepoVolumeSource
  repository string 1
  revision string 2
  directory string 3

NFSVolumeSource
  server string 1
  path string 2
  readOnly bool 3

SecretVolumeSource
  secretName string 1
  items []KeyToPath 2
  defaultMode int32 3
  optional bool 4

ConfigMapVolumeSource
  - LocalObjectReference 1
  items []KeyToPath 2
  defaultMode int32 3
  optional bool 4

KeyToPath
  key string 1
  path string 2
  mode int32 3

PersistentVolumeClaimVolumeSource
  claimName string 1
  readOnly bool 2

DownwardAPIVolumeSource
  items []DownwardAPIVolumeFile 1
  defaultMode int32 2

DownwardAPIVolumeFile
  path string 1
  fieldRef ObjectFieldSelector 2
  resourceFieldRef ResourceFieldSelector 3
  mode int32 4

ProjectedVolumeSource
  sources []VolumeProjection 1
  defaultMode int32 2

VolumeProjection
  secret SecretProjection 1
  downwardAPI DownwardAPIProjection 2
  configMap ConfigMapProjection 3
  serviceAccountToken ServiceAccountTokenProjection 4
  clusterTrustBundle raw 5
  podCertificate raw 6

SecretProjection
  - LocalObjectReference 1
  items []KeyToPath 2
  optional bool 4

ConfigMapProjection
  - LocalObjectReference 1
  items []KeyToPath 2
  optional bool 4

DownwardAPIProjection
  items []DownwardAPIVolumeFile 1

ServiceAccountTokenProjection
  audience string 1
  expirationSeconds int64 2
  path string 3

CSIVolumeSource
  driver string 1
  readOnly bool 2
  fsType string 3
  volumeAttributes map[string] 4
  nodePublishSecretRef LocalObjectReference 5

EphemeralVolumeSource
  volumeClaimTemplate PersistentVolumeClaimTemplate 1

ImageVolumeSource
  reference string 1
  pullPolicy string 2

PersistentVolumeClaimTemplate
  metadata ObjectMeta 1
  spec PersistentVolumeClaimSpec 2

PersistentVolumeClaim
  metadata ObjectMeta 1
  spec PersistentVolumeClaimSpec 2
  status raw 3

PersistentVolumeClaimSpec
  accessModes []string 1
  selector LabelSelector 4
  resources VolumeResourceRequirements 2
  volumeName string 3
  storageClassName string 5
  volumeMode string 6
  dataSource TypedLocalObjectReference 7
  dataSourceRef raw 8
  volumeAttributesClassName string 9

VolumeResourceRequirements
  limits map[quantity] 1
  requests map[quantity] 2

TypedLocalObjectReference
  apiGroup string 1
  kind string 2
  name string 3

Node
  metadata ObjectMeta 1
  spec NodeSpec 2
  status NodeStatus 3

NodeSpec
  podCIDR string 1
  podCIDRs []string 7 merge
  providerID string 3
  unschedulable bool 4
  taints []Taint 5
  configSource raw 6
  externalID string 2

NodeStatus
  capacity map[quantity] 1
  allocatable map[quantity] 2
  phase string 3
  conditions []NodeCondition 4 merge:type
  addresses []NodeAddress 5 merge:type
  daemonEndpoints NodeDaemonEndpoints 6
  nodeInfo NodeSystemInfo 7
  images []ContainerImage 8
  volumesInUse []string 9
  volumesAttached []raw 10
  config raw 11
  runtimeHandlers []raw 12
  features raw 13

NodeCondition
  type string 1
  status string 2
  lastHeartbeatTime time 3
  lastTransitionTime time 4
  reason string 5
  message string 6

NodeAddress
  type string 1
  address string 2

NodeDaemonEndpoints
  kubeletEndpoint DaemonEndpoint 1

DaemonEndpoint
  Port int32 1

NodeSystemInfo
  machineID string 1
  systemUUID string 2
  bootID string 3
  kernelVersion string 4
  osImage string 5
  containerRuntimeVersion string 6
  kubeletVersion string 7
  kubeProxyVersion string 8
  operatingSystem string 9
  architecture string 10
  swap raw 11

Namespace
  metadata ObjectMeta 1
  spec NamespaceSpec 2
  status NamespaceStatus 3

NamespaceSpec
  finalizers []string 1

NamespaceStatus
  phase string 1
  conditions []NamespaceCondition 2 merge:type

NamespaceCondition
  type string 1
  status string 2
  lastTransitionTime time 4
  reason string 5
  message string 6

Service
  metadata ObjectMeta 1
  spec ServiceSpec 2
  status ServiceStatus 3

ServiceSpec
  ports []ServicePort 1 merge:port
  selector map[string] 2
  clusterIP string 3
  clusterIPs []string 18
  type string 4
  externalIPs []string 5
  sessionAffinity string 7
  loadBalancerIP string 8
  loadBalancerSourceRanges []string 9
  externalName string 10
  externalTrafficPolicy string 11
  healthCheckNodePort int32 12
  publishNotReadyAddresses bool 13
  sessionAffinityConfig SessionAffinityConfig 14
  ipFamilies []string 19
  ipFamilyPolicy string 17
  allocateLoadBalancerNodePorts bool 20
  loadBalancerClass string 21
  internalTrafficPolicy string 22
  trafficDistribution string 23

ServicePort
  name string 1
  protocol string 2
  appProtocol string 6
  port int32 3
  targetPort intstr 4
  nodePort int32 5

SessionAffinityConfig
  clientIP ClientIPConfig 1

ClientIPConfig
  timeoutSeconds int32 1

ServiceStatus
  loadBalancer LoadBalancerStatus 1
  conditions []Condition 2 merge:type

LoadBalancerStatus
  ingress []LoadBalancerIngress 1

LoadBalancerIngress
  ip string 1
  hostname string 2
  ipMode string 3
  ports []PortStatus 4

PortStatus
  port int32 1
  protocol string 2
  error string 3

Endpoints
  metadata ObjectMeta 1
  subsets []EndpointSubset 2

EndpointSubset
  addresses []EndpointAddress 1
  notReadyAddresses []EndpointAddress 2
  ports []EndpointPort 3

EndpointAddress
  ip string 1
  hostname string 3
  nodeName string 4
  targetRef ObjectReference 2

EndpointPort
  name string 1
  port int32 2
  protocol string 3
  appProtocol string 4

ConfigMap
  metadata ObjectMeta 1
  immutable bool 4
  data map[string] 2
  binaryData map[bytes] 3

Secret
  metadata ObjectMeta 1
  immutable bool 5
  data map[bytes] 2
  stringData map[string] 4
  type string 3

ServiceAccount
  metadata ObjectMeta 1
  secrets []ObjectReference 2 merge:name
  imagePullSecrets []LocalObjectReference 3
  automountServiceAccountToken bool 4

Event
  metadata ObjectMeta 1
  involvedObject ObjectReference 2
  reason string 3
  message string 4
  source EventSource 5
  firstTimestamp time 6
  lastTimestamp time 7
  count int32 8
  type string 9
  eventTime microtime 10
  series EventSeries 11
  action string 12
  related ObjectReference 13
  reportingComponent string 14
  reportingInstance string 15

EventSeries
  count int32 1
  lastObservedTime microtime 2

EventSource
  component string 1
  host string 2

Binding
  metadata ObjectMeta 1
  target ObjectReference 2
"""
