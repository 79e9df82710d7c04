"""The CSR signer for ``kubernetes.io/kube-apiserver-client``: an approved request (not
denied, not failed) gets a client certificate from the cluster CA, valid for what it asked
(``expirationSeconds``) up to a year, with the subject it asked for; requests for other
signers are left to whoever serves them, as upstream."""

from __future__ import annotations

import base64
import datetime
import logging
from typing import Any, ClassVar

from ku7s.api import meta
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.pki import CertificateAuthority, CertificateRequestError

Object = dict[str, Any]

log = logging.getLogger("csrsigning")

SIGNER = "kubernetes.io/kube-apiserver-client"
#: Upstream's --cluster-signing-duration.
MAX_VALIDITY = datetime.timedelta(days=365)
ALLOWED_USAGES = {"client auth", "digital signature", "key encipherment"}
PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _holds(csr: Object, kind: str) -> bool:
    conditions = (csr.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status", "True") == "True" for c in conditions)


class CSRSigningController(Controller):
    name: ClassVar[str] = "csrsigning"

    def __init__(
        self,
        client: APIClient,
        informers: InformerFactory | None,
        authority: CertificateAuthority,
        *,
        workers: int = 1,
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self._authority = authority
        self.requests = self.factory.informer(PATH)
        self.requests.on_change(lambda _, csr: self.queue.add(meta.name_of(csr)))
        self.informers = [self.requests]

    async def reconcile(self, key: str) -> None:
        csr = self.requests.get(key)
        if csr is None or (csr.get("spec") or {}).get("signerName") != SIGNER:
            return
        status = csr.get("status") or {}
        if status.get("certificate") or not _holds(csr, "Approved"):
            return
        if _holds(csr, "Denied") or _holds(csr, "Failed"):
            return
        spec = csr["spec"]
        unwanted = sorted(set(spec.get("usages") or []) - ALLOWED_USAGES)
        try:
            if unwanted:
                raise CertificateRequestError(
                    f"invalid usage for client certificate: {unwanted[0]}"
                )
            seconds = spec.get("expirationSeconds")
            validity = MAX_VALIDITY
            if seconds:
                validity = min(validity, datetime.timedelta(seconds=int(seconds)))
            pem = self._authority.sign_client_request(base64.b64decode(spec["request"]), validity)
        except (CertificateRequestError, ValueError) as e:
            failed = {
                "type": "Failed",
                "status": "True",
                "reason": "SignerValidationFailure",
                "message": str(e),
                "lastUpdateTime": meta.now_rfc3339(),
                "lastTransitionTime": meta.now_rfc3339(),
            }
            await self._write(
                csr, {**status, "conditions": [*(status.get("conditions") or []), failed]}
            )
            return
        await self._write(csr, {**status, "certificate": base64.b64encode(pem).decode()})

    async def _write(self, csr: Object, status: Object) -> None:
        try:
            await self.client.replace(
                f"{PATH}/{meta.name_of(csr)}/status", {**csr, "status": status}
            )
        except APIStatusError as e:
            if e.code not in (404, 409):
                raise
