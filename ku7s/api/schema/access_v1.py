"""rbac.authorization.k8s.io/v1, authentication.k8s.io/v1 and authorization.k8s.io/v1
types, in the schema notation of ku7s.api.schema (public API field numbers, checked against
the bodies kubectl 1.33 sends)."""

RBAC = """
Role
  metadata ObjectMeta 1
  rules []PolicyRule 2

ClusterRole
  metadata ObjectMeta 1
  rules []PolicyRule 2
  aggregationRule AggregationRule 3

PolicyRule
  verbs []string 1
  apiGroups []string 2
  resources []string 3
  resourceNames []string 4
  nonResourceURLs []string 5

AggregationRule
  clusterRoleSelectors []LabelSelector 1

RoleBinding
  metadata ObjectMeta 1
  subjects []Subject 2
  roleRef RoleRef 3

ClusterRoleBinding
  metadata ObjectMeta 1
  subjects []Subject 2
  roleRef RoleRef 3

Subject
  kind string 1
  apiGroup string 2
  name string 3
  namespace string 4

RoleRef
  apiGroup string 1
  kind string 2
  name string 3
"""

AUTHENTICATION = """
TokenRequest
  metadata ObjectMeta 1
  spec TokenRequestSpec 2
  status TokenRequestStatus 3

TokenRequestSpec
  audiences []string 1
  boundObjectRef BoundObjectReference 3
  expirationSeconds int64 4

BoundObjectReference
  kind string 1
  apiVersion string 2
  name string 3
  uid string 4

TokenRequestStatus
  token string 1
  expirationTimestamp time 2

TokenReview
  metadata ObjectMeta 1
  spec TokenReviewSpec 2
  status TokenReviewStatus 3

TokenReviewStatus
  authenticated bool 1
  user UserInfo 2
  error string 3
  audiences []string 4

UserInfo
  username string 1
  uid string 2
  groups []string 3

TokenReviewSpec
  token string 1
  audiences []string 2

SelfSubjectReview
  metadata ObjectMeta 1
  status SelfSubjectReviewStatus 2

SelfSubjectReviewStatus
  userInfo UserInfo 1
"""

AUTHORIZATION = """
SelfSubjectAccessReview
  metadata ObjectMeta 1
  spec SelfSubjectAccessReviewSpec 2
  status SubjectAccessReviewStatus 3

SubjectAccessReviewStatus
  allowed bool 1
  reason string 2
  evaluationError string 3
  denied bool 4

SelfSubjectAccessReviewSpec
  resourceAttributes ResourceAttributes 1
  nonResourceAttributes NonResourceAttributes 2

ResourceAttributes
  namespace string 1
  verb string 2
  group string 3
  version string 4
  resource string 5
  subresource string 6
  name string 7

NonResourceAttributes
  path string 1
  verb string 2

SubjectAccessReview
  metadata ObjectMeta 1
  spec SubjectAccessReviewSpec 2
  status SubjectAccessReviewStatus 3

LocalSubjectAccessReview
  metadata ObjectMeta 1
  spec SubjectAccessReviewSpec 2
  status SubjectAccessReviewStatus 3

SubjectAccessReviewSpec
  resourceAttributes ResourceAttributes 1
  nonResourceAttributes NonResourceAttributes 2
  user string 3
  groups []string 4
  uid string 6

SelfSubjectRulesReview
  metadata ObjectMeta 1
  spec SelfSubjectRulesReviewSpec 2
  status SubjectRulesReviewStatus 3

SubjectRulesReviewStatus
  resourceRules []ResourceRule 1
  nonResourceRules []NonResourceRule 2
  incomplete bool 3
  evaluationError string 4

ResourceRule
  verbs []string 1
  apiGroups []string 2
  resources []string 3
  resourceNames []string 4

NonResourceRule
  verbs []string 1
  nonResourceURLs []string 2

SelfSubjectRulesReviewSpec
  namespace string 1
"""
