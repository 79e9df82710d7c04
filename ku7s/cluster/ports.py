"""Host ports for the API server: a free one chosen by ku7s, or the user's, checked first."""

from __future__ import annotations

import socket

from ku7s.errors import UserInputError


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now. Chosen by ku7s, not Docker, so it survives restarts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def require_free(port: int, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            raise UserInputError(
                f"host port {port} is already in use; choose another "
                "networking.apiServerPort or leave it 0"
            ) from None
    return port
