"""The types that extend the API: admissionregistration.k8s.io/v1 (webhook configurations,
ValidatingAdmissionPolicy and its binding), apiextensions.k8s.io/v1
(CustomResourceDefinition; a version's openAPIV3Schema is kept as any JSON, as its own
schema language is checked by the API server) and apiregistration.k8s.io/v1 (APIService),
in the schema notation of ku7s.api.schema (public API field numbers)."""

ADMISSION_REGISTRATION = """
ValidatingWebhookConfiguration
  metadata ObjectMeta 1
  webhooks []ValidatingWebhook 2 merge:name

MutatingWebhookConfiguration
  metadata ObjectMeta 1
  webhooks []MutatingWebhook 2 merge:name

ValidatingWebhook
  name string 1
  clientConfig WebhookClientConfig 2
  rules []RuleWithOperations 3
  failurePolicy string 4
  matchPolicy string 9
  namespaceSelector LabelSelector 5
  objectSelector LabelSelector 10
  sideEffects string 6
  timeoutSeconds int32 7
  admissionReviewVersions []string 8
  matchConditions []MatchCondition 11 merge:name

MutatingWebhook
  name string 1
  clientConfig WebhookClientConfig 2
  rules []RuleWithOperations 3
  failurePolicy string 4
  matchPolicy string 9
  namespaceSelector LabelSelector 5
  objectSelector LabelSelector 11
  sideEffects string 6
  timeoutSeconds int32 7
  admissionReviewVersions []string 8
  reinvocationPolicy string 10
  matchConditions []MatchCondition 12 merge:name

WebhookClientConfig
  url string 3
  service ServiceReference 1
  caBundle bytes 2

ServiceReference
  namespace string 1
  name string 2
  path string 3
  port int32 4

RuleWithOperations
  operations []string 1
  - Rule 2

NamedRuleWithOperations
  resourceNames []string 1
  - RuleWithOperations 2

Rule
  apiGroups []string 1
  apiVersions []string 2
  resources []string 3
  scope string 4

MatchCondition
  name string 1
  expression string 2

ValidatingAdmissionPolicy
  metadata ObjectMeta 1
  spec ValidatingAdmissionPolicySpec 2
  status ValidatingAdmissionPolicyStatus 3

ValidatingAdmissionPolicySpec
  paramKind ParamKind 1
  matchConstraints MatchResources 2
  validations []Validation 3
  failurePolicy string 4
  auditAnnotations []AuditAnnotation 5
  matchConditions []MatchCondition 6 merge:name
  variables []Variable 7

ParamKind
  apiVersion string 1
  kind string 2

MatchResources
  namespaceSelector LabelSelector 1
  objectSelector LabelSelector 2
  resourceRules []NamedRuleWithOperations 3
  excludeResourceRules []NamedRuleWithOperations 4
  matchPolicy string 7

Validation
  expression string 1
  message string 2
  reason string 3
  messageExpression string 4

AuditAnnotation
  key string 1
  valueExpression string 2

Variable
  name string 1
  expression string 2

ValidatingAdmissionPolicyStatus
  observedGeneration int64 1
  typeChecking TypeChecking 2
  conditions []Condition 3 merge:type

TypeChecking
  expressionWarnings []ExpressionWarning 1

ExpressionWarning
  fieldRef string 2
  warning string 3

ValidatingAdmissionPolicyBinding
  metadata ObjectMeta 1
  spec ValidatingAdmissionPolicyBindingSpec 2

ValidatingAdmissionPolicyBindingSpec
  policyName string 1
  paramRef ParamRef 2
  matchResources MatchResources 3
  validationActions []string 4

ParamRef
  name string 1
  namespace string 2
  selector LabelSelector 3
  parameterNotFoundAction string 4
"""

API_EXTENSIONS = """
CustomResourceDefinition
  metadata ObjectMeta 1
  spec CustomResourceDefinitionSpec 2
  status CustomResourceDefinitionStatus 3

CustomResourceDefinitionSpec
  group string 1
  names CustomResourceDefinitionNames 3
  scope string 4
  versions []CustomResourceDefinitionVersion 7
  conversion CustomResourceConversion 9
  preserveUnknownFields bool 10

CustomResourceDefinitionNames
  plural string 1
  singular string 2
  shortNames []string 3
  kind string 4
  listKind string 5
  categories []string 6

CustomResourceDefinitionVersion
  name string 1
  served bool 2
  storage bool 3
  deprecated bool 7
  deprecationWarning string 8
  schema CustomResourceValidation 4
  subresources CustomResourceSubresources 5
  additionalPrinterColumns []CustomResourceColumnDefinition 6
  selectableFields []SelectableField 9

CustomResourceValidation
  openAPIV3Schema raw 1

CustomResourceSubresources
  status CustomResourceSubresourceStatus 1
  scale CustomResourceSubresourceScale 2

CustomResourceSubresourceStatus

CustomResourceSubresourceScale
  specReplicasPath string 1
  statusReplicasPath string 2
  labelSelectorPath string 3

CustomResourceColumnDefinition
  name string 1
  type string 2
  format string 3
  description string 4
  priority int32 5
  jsonPath string 6

SelectableField
  jsonPath string 1

CustomResourceConversion
  strategy string 1
  webhook WebhookConversion 2

WebhookConversion
  clientConfig WebhookClientConfig 2
  conversionReviewVersions []string 3

WebhookClientConfig
  url string 3
  service ServiceReference 1
  caBundle bytes 2

ServiceReference
  namespace string 1
  name string 2
  path string 3
  port int32 4

CustomResourceDefinitionStatus
  conditions []CustomResourceDefinitionCondition 1 merge:type
  acceptedNames CustomResourceDefinitionNames 2
  storedVersions []string 3

CustomResourceDefinitionCondition
  type string 1
  status string 2
  lastTransitionTime time 3
  reason string 4
  message string 5
"""

API_REGISTRATION = """
APIService
  metadata ObjectMeta 1
  spec APIServiceSpec 2
  status APIServiceStatus 3

APIServiceSpec
  service ServiceReference 1
  group string 2
  version string 3
  insecureSkipTLSVerify bool 4
  caBundle bytes 5
  groupPriorityMinimum int32 7
  versionPriority int32 8

ServiceReference
  namespace string 1
  name string 2
  port int32 3

APIServiceStatus
  conditions []APIServiceCondition 1 merge:type

APIServiceCondition
  type string 1
  status string 2
  lastTransitionTime time 3
  reason string 4
  message string 5
"""
