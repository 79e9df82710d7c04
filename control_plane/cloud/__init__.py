"""The mock cloud-controller-manager: node identity and zones, and load balancers, from Docker."""
