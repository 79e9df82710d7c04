"""The create-only kinds answered at the time of asking and stored nowhere: who am I
(SelfSubjectReview), is this token valid (TokenReview), may this user do that (the access
reviews) and what may I do here (SelfSubjectRulesReview). Served by reviews_api.py; listed
here so discovery shows them as upstream does."""

from __future__ import annotations

from typing import ClassVar

from control_plane.apiserver.kinds.base import Kind
from control_plane.apiserver.resources import ResourceType

AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"


class _Review(Kind):
    stored: ClassVar[bool] = False


def _review(group: str, plural: str, kind: str, namespaced: bool = False) -> type[_Review]:
    resource = ResourceType(
        group, "v1", plural, "", kind, namespaced, verbs=("create",),
        storage_name=f"{group}-{plural}",
    )  # fmt: skip
    return type(f"{kind}Kind", (_Review,), {"resource": resource})


TokenReviewKind = _review(AUTHENTICATION, "tokenreviews", "TokenReview")
SelfSubjectReviewKind = _review(AUTHENTICATION, "selfsubjectreviews", "SelfSubjectReview")
SubjectAccessReviewKind = _review(AUTHORIZATION, "subjectaccessreviews", "SubjectAccessReview")
SelfSubjectAccessReviewKind = _review(
    AUTHORIZATION, "selfsubjectaccessreviews", "SelfSubjectAccessReview"
)
LocalSubjectAccessReviewKind = _review(
    AUTHORIZATION, "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced=True
)
SelfSubjectRulesReviewKind = _review(
    AUTHORIZATION, "selfsubjectrulesreviews", "SelfSubjectRulesReview"
)

REVIEW_KINDS = (
    TokenReviewKind,
    SelfSubjectReviewKind,
    SubjectAccessReviewKind,
    SelfSubjectAccessReviewKind,
    LocalSubjectAccessReviewKind,
    SelfSubjectRulesReviewKind,
)
