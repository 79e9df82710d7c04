"""certificates.k8s.io/v1 CertificateSigningRequests, in the schema notation of
ku7s.api.schema (public API field numbers)."""

SOURCE = """
CertificateSigningRequest
  metadata ObjectMeta 1
  spec CertificateSigningRequestSpec 2
  status CertificateSigningRequestStatus 3

CertificateSigningRequestSpec
  request bytes 1
  signerName string 7
  expirationSeconds int32 8
  usages []string 5
  username string 2
  uid string 3
  groups []string 4
  extra raw 6

CertificateSigningRequestStatus
  conditions []CertificateSigningRequestCondition 1
  certificate bytes 2

CertificateSigningRequestCondition
  type string 1
  status string 6
  reason string 2
  message string 3
  lastUpdateTime time 4
  lastTransitionTime time 5
"""
