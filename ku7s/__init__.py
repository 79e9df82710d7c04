"""ku7s: a Kubernetes-in-Docker emulator.

This package is the shared library and the host side: object helpers (api/), the REST client
(client/), cluster lifecycle on Docker (cluster/), the process supervisor that runs inside
every node container (supervisor/), and the `ku7s` command (cli/). It never imports
control_plane or node_image; those two import it.
"""

__version__ = "0.1.0"

#: The Kubernetes version whose API semantics ku7s follows.
KUBERNETES_VERSION = "v1.33.0"
