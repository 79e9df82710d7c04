"""networking.k8s.io/v1 types (Ingress, IngressClass, NetworkPolicy), in the schema
notation of ku7s.api.schema (public API field numbers)."""

SOURCE = """
Ingress
  metadata ObjectMeta 1
  spec IngressSpec 2
  status IngressStatus 3

IngressSpec
  ingressClassName string 4
  defaultBackend IngressBackend 1
  tls []IngressTLS 2
  rules []IngressRule 3

IngressBackend
  service IngressServiceBackend 4
  resource TypedLocalObjectReference 3

IngressServiceBackend
  name string 1
  port ServiceBackendPort 2

ServiceBackendPort
  name string 1
  number int32 2

IngressTLS
  hosts []string 1
  secretName string 2

IngressRule
  host string 1
  - IngressRuleValue 2

IngressRuleValue
  http HTTPIngressRuleValue 1

HTTPIngressRuleValue
  paths []HTTPIngressPath 1

HTTPIngressPath
  path string 1
  pathType string 3
  backend IngressBackend 2

IngressStatus
  loadBalancer IngressLoadBalancerStatus 1

IngressLoadBalancerStatus
  ingress []IngressLoadBalancerIngress 1

IngressLoadBalancerIngress
  ip string 1
  hostname string 2
  ports []IngressPortStatus 4

IngressPortStatus
  port int32 1
  protocol string 2
  error string 3

IngressClass
  metadata ObjectMeta 1
  spec IngressClassSpec 2

IngressClassSpec
  controller string 1
  parameters IngressClassParametersReference 2

IngressClassParametersReference
  apiGroup string 1
  kind string 2
  name string 3
  scope string 4
  namespace string 5

NetworkPolicy
  metadata ObjectMeta 1
  spec NetworkPolicySpec 2

NetworkPolicySpec
  podSelector LabelSelector 1
  ingress []NetworkPolicyIngressRule 2
  egress []NetworkPolicyEgressRule 3
  policyTypes []string 4

NetworkPolicyIngressRule
  ports []NetworkPolicyPort 1
  from []NetworkPolicyPeer 2

NetworkPolicyEgressRule
  ports []NetworkPolicyPort 1
  to []NetworkPolicyPeer 2

NetworkPolicyPort
  protocol string 1
  port intstr 2
  endPort int32 3

NetworkPolicyPeer
  podSelector LabelSelector 1
  namespaceSelector LabelSelector 2
  ipBlock IPBlock 3

IPBlock
  cidr string 1
  except []string 2
"""
