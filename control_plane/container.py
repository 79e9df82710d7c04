"""Facts about the control-plane container that several of its processes need."""

from __future__ import annotations

import socket


def own_address() -> str:
    """This container's address on the cluster network, where pods reach its services."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
