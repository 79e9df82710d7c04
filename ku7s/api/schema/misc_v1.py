"""coordination.k8s.io/v1, discovery.k8s.io/v1 and events.k8s.io/v1 types, in the schema
notation of ku7s.api.schema (public API field numbers)."""

COORDINATION = """
Lease
  metadata ObjectMeta 1
  spec LeaseSpec 2

LeaseSpec
  holderIdentity string 1
  leaseDurationSeconds int32 2
  acquireTime microtime 3
  renewTime microtime 4
  leaseTransitions int32 5
  strategy string 6
  preferredHolder string 7
"""

DISCOVERY = """
EndpointSlice
  metadata ObjectMeta 1
  addressType string 4
  endpoints []Endpoint 2
  ports []EndpointPort 3

Endpoint
  addresses []string 1
  conditions EndpointConditions 2
  hostname string 3
  targetRef ObjectReference 4
  deprecatedTopology map[string] 5
  nodeName string 6
  zone string 7
  hints EndpointHints 8

EndpointConditions
  ready bool 1
  serving bool 2
  terminating bool 3

EndpointHints
  forZones []ForZone 1
  forNodes []ForNode 2

ForZone
  name string 1

ForNode
  name string 1

EndpointPort
  name string 1
  protocol string 2
  port int32 3
  appProtocol string 4
"""

EVENTS = """
Event
  metadata ObjectMeta 1
  eventTime microtime 2
  series EventSeries 3
  reportingController string 4
  reportingInstance string 5
  action string 6
  reason string 7
  regarding ObjectReference 8
  related ObjectReference 9
  note string 10
  type string 11
  deprecatedSource EventSource 12
  deprecatedFirstTimestamp time 13
  deprecatedLastTimestamp time 14
  deprecatedCount int32 15

EventSeries
  count int32 1
  lastObservedTime microtime 2
"""
