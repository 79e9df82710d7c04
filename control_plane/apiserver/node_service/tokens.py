"""Bootstrap tokens: the shared secret a new node presents to Join (compared in constant time)."""

from __future__ import annotations

import hmac
from pathlib import Path

from ku7s.pki import BOOTSTRAP_TOKEN_PATTERN


class BootstrapTokens:
    """The tokens the control plane accepts, read from a file with one token per line."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _tokens(self) -> list[str]:
        try:
            text = self._path.read_text()
        except FileNotFoundError:
            return []
        return [t.strip() for t in text.splitlines() if BOOTSTRAP_TOKEN_PATTERN.match(t.strip())]

    def accepts(self, token: str) -> bool:
        # Read on every join so tokens can be added or revoked without a restart.
        valid = False
        for known in self._tokens():
            valid |= hmac.compare_digest(known.encode(), token.encode())
        return valid
