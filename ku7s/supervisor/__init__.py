"""The process supervisor that is the main process of every node container.

It starts each program of the node's role (etcd, kube-apiserver, ... on the control plane;
containerd, kubelet, kube-proxy on a worker), writes each one's output to its own log file
under /var/log/ku7s/, restarts a program that exits with exponential back-off, and stops
them all on SIGTERM. It imports only the standard library to keep its memory small.
"""

from ku7s.supervisor.backoff import Backoff
from ku7s.supervisor.program import Program
from ku7s.supervisor.supervisor import Supervisor

__all__ = ["Backoff", "Program", "Supervisor"]
