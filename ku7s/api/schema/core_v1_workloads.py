"""core/v1 types of pods and containers, in the schema notation of ku7s.api.schema.

Field names and protobuf field numbers are those of the public Kubernetes API.
"""

SOURCE = """
Container
  name string 1
  image string 2
  command []string 3
  args []string 4
  workingDir string 5
  ports []ContainerPort 6 merge:containerPort
  envFrom []EnvFromSource 19
  env []EnvVar 7 merge:name
  resources ResourceRequirements 8
  resizePolicy []ContainerResizePolicy 23
  restartPolicy string 24
  volumeMounts []VolumeMount 9 merge:mountPath
  volumeDevices []VolumeDevice 21 merge:devicePath
  livenessProbe Probe 10
  readinessProbe Probe 11
  startupProbe Probe 22
  lifecycle Lifecycle 12
  terminationMessagePath string 13
  terminationMessagePolicy string 20
  imagePullPolicy string 14
  securityContext SecurityContext 15
  stdin bool 16
  stdinOnce bool 17
  tty bool 18

EphemeralContainer
  - Container 1
  targetContainerName string 2

ContainerResizePolicy
  resourceName string 1
  restartPolicy string 2

ContainerPort
  name string 1
  hostPort int32 2
  containerPort int32 3
  protocol string 4
  hostIP string 5

ContainerImage
  names []string 1
  sizeBytes int64 2

ContainerState
  waiting ContainerStateWaiting 1
  running ContainerStateRunning 2
  terminated ContainerStateTerminated 3

ContainerStateRunning
  startedAt time 1

ContainerStateTerminated
  exitCode int32 1
  signal int32 2
  reason string 3
  message string 4
  startedAt time 5
  finishedAt time 6
  containerID string 7

ContainerStateWaiting
  reason string 1
  message string 2

ContainerStatus
  name string 1
  state ContainerState 2
  lastState ContainerState 3
  ready bool 4
  restartCount int32 5
  image string 6
  imageID string 7
  containerID string 8
  started bool 9
  allocatedResources map[quantity] 10
  resources ResourceRequirements 11
  volumeMounts []VolumeMountStatus 12
  user ContainerUser 13
  allocatedResourcesStatus []raw 14
  stopSignal string 15

VolumeMountStatus
  name string 1
  mountPath string 2
  readOnly bool 3
  recursiveReadOnly string 4

ContainerUser
  linux raw 1

EnvFromSource
  prefix string 1
  configMapRef ConfigMapEnvSource 2
  secretRef SecretEnvSource 3

ConfigMapEnvSource
  - LocalObjectReference 1
  optional bool 2

SecretEnvSource
  - LocalObjectReference 1
  optional bool 2

EnvVar
  name string 1
  value string 2
  valueFrom EnvVarSource 3

EnvVarSource
  fieldRef ObjectFieldSelector 1
  resourceFieldRef ResourceFieldSelector 2
  configMapKeyRef ConfigMapKeySelector 3
  secretKeyRef SecretKeySelector 4
  fileKeyRef raw 5

ConfigMapKeySelector
  - LocalObjectReference 1
  key string 2
  optional bool 3

SecretKeySelector
  - LocalObjectReference 1
  key string 2
  optional bool 3

ObjectFieldSelector
  apiVersion string 1
  fieldPath string 2

ResourceFieldSelector
  containerName string 1
  resource string 2
  divisor quantity 3

LocalObjectReference
  name string 1

ObjectReference
  kind string 1
  namespace string 2
  name string 3
  uid string 4
  apiVersion string 5
  resourceVersion string 6
  fieldPath string 7

ExecAction
  command []string 1

HTTPGetAction
  path string 1
  port intstr 2
  host string 3
  scheme string 4
  httpHeaders []HTTPHeader 5

HTTPHeader
  name string 1
  value string 2

TCPSocketAction
  port intstr 1
  host string 2

GRPCAction
  port int32 1
  service string 2

SleepAction
  seconds int64 1

LifecycleHandler
  exec ExecAction 1
  httpGet HTTPGetAction 2
  tcpSocket TCPSocketAction 3
  sleep SleepAction 4

Lifecycle
  postStart LifecycleHandler 1
  preStop LifecycleHandler 2
  stopSignal string 3

ProbeHandler
  exec ExecAction 1
  httpGet HTTPGetAction 2
  tcpSocket TCPSocketAction 3
  grpc GRPCAction 4

Probe
  - ProbeHandler 1
  initialDelaySeconds int32 2
  timeoutSeconds int32 3
  periodSeconds int32 4
  successThreshold int32 5
  failureThreshold int32 6
  terminationGracePeriodSeconds int64 7

ResourceRequirements
  limits map[quantity] 1
  requests map[quantity] 2
  claims []ResourceClaim 3

ResourceClaim
  name string 1
  request string 2

VolumeMount
  name string 1
  readOnly bool 2
  recursiveReadOnly string 7
  mountPath string 3
  subPath string 4
  mountPropagation string 5
  subPathExpr string 6

VolumeDevice
  name string 1
  devicePath string 2

Capabilities
  add []string 1
  drop []string 2

SELinuxOptions
  user string 1
  role string 2
  type string 3
  level string 4

WindowsSecurityContextOptions
  gmsaCredentialSpecName string 1
  gmsaCredentialSpec string 2
  runAsUserName string 3
  hostProcess bool 4

SeccompProfile
  type string 1
  localhostProfile string 2

AppArmorProfile
  type string 1
  localhostProfile string 2

SecurityContext
  capabilities Capabilities 1
  privileged bool 2
  seLinuxOptions SELinuxOptions 3
  windowsOptions WindowsSecurityContextOptions 10
  runAsUser int64 4
  runAsGroup int64 8
  runAsNonRoot bool 5
  readOnlyRootFilesystem bool 6
  allowPrivilegeEscalation bool 7
  procMount string 9
  seccompProfile SeccompProfile 11
  appArmorProfile AppArmorProfile 12

Sysctl
  name string 1
  value string 2

PodSecurityContext
  seLinuxOptions SELinuxOptions 1
  windowsOptions WindowsSecurityContextOptions 8
  runAsUser int64 2
  runAsGroup int64 6
  runAsNonRoot bool 3
  supplementalGroups []int64 4
  supplementalGroupsPolicy string 12
  fsGroup int64 5
  sysctls []Sysctl 7
  fsGroupChangePolicy string 9
  seccompProfile SeccompProfile 10
  appArmorProfile AppArmorProfile 11
  seLinuxChangePolicy string 13
"""
