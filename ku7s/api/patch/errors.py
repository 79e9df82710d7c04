"""Why a patch failed: unreadable (400) or not applicable to this object (422)."""


class PatchError(ValueError):
    """The patch is malformed or uses an unknown directive."""


class PatchConflict(PatchError):
    """The patch is well formed but does not apply (a failed test, a missing path)."""
