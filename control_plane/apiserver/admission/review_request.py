"""The AdmissionRequest of a write: what a webhook receives in its AdmissionReview and what
a ValidatingAdmissionPolicy's CEL sees as ``request``."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ku7s.api import meta

if TYPE_CHECKING:
    from control_plane.apiserver.authentication.user import User
    from control_plane.apiserver.kinds.base import Kind

Object = dict[str, Any]
_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def review_request(
    kind: Kind,
    operation: str,
    obj: Object | None,
    old: Object | None,
    user: User,
    *,
    subresource: str,
    dry_run: bool,
) -> Object:
    rt = kind.resource
    subject = obj if obj is not None else old or {}
    request: Object = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
        "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
        "name": meta.name_of(subject),
        "operation": operation,
        "userInfo": {"username": user.name, "uid": user.uid, "groups": list(user.groups),
                     "extra": {k: list(v) for k, v in user.extra.items()}},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"kind": _OPTIONS.get(operation, "CreateOptions"),
                    "apiVersion": "meta.k8s.io/v1"},
    }  # fmt: skip
    if subresource:
        request["subResource"] = subresource
    if rt.namespaced:
        request["namespace"] = meta.namespace_of(subject)
    return request
