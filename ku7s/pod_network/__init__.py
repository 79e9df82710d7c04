"""Pod networking shared by nodes, gateways and the control plane: their routes, and the
record of the Docker hosts a cluster spans."""
