"""certificates.k8s.io/v1 CertificateSigningRequests: a client asks for a certificate,
someone with the right approves or denies it (the ``approval`` subresource,
``kubectl certificate approve``), and the signer named in the request issues it."""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from cryptography import x509

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, human_duration
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

KEY_USAGES = (
    "signing", "digital signature", "content commitment", "key encipherment",
    "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
    "decipher only", "any", "server auth", "client auth", "code signing", "email protection",
    "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping",
    "ocsp signing", "microsoft sgc", "netscape sgc",
)  # fmt: skip
CONDITION_TYPES = ("Approved", "Denied", "Failed")
MIN_EXPIRATION_SECONDS = 600


def decode_request(text: Any) -> x509.CertificateSigningRequest | None:
    """The PEM request carried base64-encoded in spec.request, or None if it is not one."""
    try:
        return x509.load_pem_x509_csr(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        return None


def has_condition(obj: Object, kind: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status", "True") == "True" for c in conditions)


class CertificateSigningRequestKind(Kind):
    resource = ResourceType(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "certificatesigningrequest",
        "CertificateSigningRequest",
        False,
        short_names=("csr",),
        subresources=("status", "approval"),
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        AGE,
        ("SignerName", "string", "", 0),
        ("Requestor", "string", "", 0),
        ("RequestedDuration", "string", "", 0),
        ("Condition", "string", "", 0),
    ]

    def record_requester(self, obj: Object, user_info: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for field in ("username", "uid", "groups", "extra"):
                spec.pop(field, None)
                if user_info.get(field):
                    spec[field] = user_info[field]

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        obj.pop("status", None)

    def prepare_for_update(self, old: Object, new: Object, subresource: str | None) -> Object:
        if subresource == "approval":  # only the conditions change
            result = meta.clone(old)
            conditions = (new.get("status") or {}).get("conditions")
            result.setdefault("status", {})["conditions"] = conditions or []
            return result
        if subresource == "status":  # the signer: certificate and conditions
            return super().prepare_for_update(old, new, subresource)
        result = meta.clone(new)  # spec and status stay as they are
        result["spec"], result["status"] = (
            meta.clone(old.get("spec")),
            meta.clone(old.get("status")),
        )
        if result["status"] is None:
            result.pop("status")
        return result

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        if not spec.get("request"):
            errors.required("spec.request")
        elif decode_request(spec["request"]) is None:
            errors.invalid("spec.request", "", "PEM block type must be CERTIFICATE REQUEST")
        if not spec.get("signerName"):
            errors.required("spec.signerName")
        seconds = spec.get("expirationSeconds")
        if seconds is not None and (
            not isinstance(seconds, int) or seconds < MIN_EXPIRATION_SECONDS
        ):
            errors.invalid(
                "spec.expirationSeconds",
                seconds,
                f"may not specify a duration less than {MIN_EXPIRATION_SECONDS} seconds "
                "(10 minutes)",
            )
        if not spec.get("usages"):
            errors.required("spec.usages")
        for i, usage in enumerate(spec.get("usages") or []):
            errors.one_of(f"spec.usages[{i}]", usage, KEY_USAGES)
        conditions = (obj.get("status") or {}).get("conditions") or []
        for i, condition in enumerate(conditions):
            errors.one_of(
                f"status.conditions[{i}].type",
                (condition or {}).get("type"),
                CONDITION_TYPES,
                required=True,
            )
        if has_condition(obj, "Approved") and has_condition(obj, "Denied"):
            errors.invalid(
                "status.conditions",
                conditions,
                "Approved and Denied conditions are mutually exclusive",
            )

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        for kind in ("Approved", "Denied"):
            if has_condition(old, kind) and not has_condition(new, kind):
                errors.forbidden(
                    "status.conditions", f"updates may not remove a condition of type {kind!r}"
                )
        if (old.get("status") or {}).get("certificate") and (old.get("status") or {}).get(
            "certificate"
        ) != (new.get("status") or {}).get("certificate"):
            errors.forbidden(
                "status.certificate", "updates may not modify existing certificate content"
            )

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        states = [
            c.get("type", "")
            for c in status.get("conditions") or []
            if c.get("status", "True") == "True"
        ]
        if status.get("certificate"):
            states.append("Issued")
        seconds = spec.get("expirationSeconds")
        return [
            meta.name_of(obj),
            age(obj),
            spec.get("signerName", ""),
            spec.get("username", ""),
            human_duration(seconds) if seconds else "<none>",
            ",".join(states) or "Pending",
        ]
