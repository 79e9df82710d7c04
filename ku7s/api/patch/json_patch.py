"""JSON patch (RFC 6902), applied with the jsonpatch library."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from ku7s.api.patch.errors import PatchConflict, PatchError


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    try:
        patch = jsonpatch.JsonPatch(operations)
        return patch.apply(target)
    except jsonpatch.JsonPatchTestFailed as e:
        raise PatchConflict(f"the test operation failed: {e}") from e
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as e:
        raise PatchConflict(str(e)) from e
    except (jsonpatch.InvalidJsonPatch, jsonpatch.JsonPatchException, TypeError, KeyError) as e:
        raise PatchError(f"invalid JSON patch: {e}") from e
