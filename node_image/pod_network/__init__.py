"""The pod network between nodes: routes to every other node's pod CIDR (kindnet's job)."""
