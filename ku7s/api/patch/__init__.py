"""The three PATCH types of the Kubernetes API: JSON merge patch (RFC 7386), JSON patch
(RFC 6902, through the jsonpatch library) and strategic merge patch, which merges lists
element by element using the merge keys of the built-in types (schema.py).

    PatchError            a patch that cannot be read (400 BadRequest)
    └── PatchConflict     a well-formed patch that does not apply (422)
"""

from ku7s.api.patch.errors import PatchConflict, PatchError
from ku7s.api.patch.json_patch import json_patch
from ku7s.api.patch.merge import merge_patch
from ku7s.api.patch.strategic import strategic_merge_patch

__all__ = ["PatchConflict", "PatchError", "json_patch", "merge_patch", "strategic_merge_patch"]
