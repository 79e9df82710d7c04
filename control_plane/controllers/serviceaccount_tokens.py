"""The tokens controller: a Secret of type ``kubernetes.io/service-account-token`` that names
a service account gets a never-expiring token for it, the cluster CA and the namespace (the
pre-1.24 way, which some charts still use); it goes when its service account goes."""

from __future__ import annotations

import base64
import logging
from typing import Any, ClassVar

from control_plane.service_account_tokens import BoundRef, ServiceAccountTokens
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

log = logging.getLogger("tokens-controller")

Object = dict[str, Any]
TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class ServiceAccountTokenController(Controller):
    name: ClassVar[str] = "serviceaccount-token"

    def __init__(
        self,
        client: APIClient,
        informers: InformerFactory | None,
        tokens: ServiceAccountTokens,
        ca_pem: str,
        *,
        workers: int = 1,
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self._tokens = tokens
        self._ca_pem = ca_pem
        self.secrets = self.factory.informer("/api/v1/secrets")
        self.accounts = self.factory.informer("/api/v1/serviceaccounts")
        self.secrets.on_change(self._secret_changed)
        self.accounts.on_change(self._account_changed)
        self.informers = [self.secrets, self.accounts]

    def _secret_changed(self, event: str, secret: Object) -> None:
        if secret.get("type") == TOKEN_TYPE and event != "DELETED":
            metadata = secret["metadata"]
            self.queue.add(f"{metadata.get('namespace', '')}/{metadata['name']}")

    def _account_changed(self, event: str, account: Object) -> None:
        namespace = account["metadata"].get("namespace", "")
        for secret in self.secrets.list():
            metadata = secret["metadata"]
            annotations = metadata.get("annotations") or {}
            if (
                secret.get("type") == TOKEN_TYPE
                and metadata.get("namespace") == namespace
                and annotations.get(NAME_ANNOTATION) == account["metadata"]["name"]
            ):
                self.queue.add(f"{namespace}/{metadata['name']}")

    async def reconcile(self, key: str) -> None:
        secret = self.secrets.get(key)
        if secret is None:
            return
        namespace, name = key.split("/", 1)
        annotations = secret["metadata"].get("annotations") or {}
        account_name = annotations.get(NAME_ANNOTATION, "")
        account = self.accounts.get(f"{namespace}/{account_name}")
        path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
        wanted_uid = annotations.get(UID_ANNOTATION)
        if account is None or (wanted_uid and wanted_uid != account["metadata"]["uid"]):
            # Its service account is gone (or was replaced): so is the token.
            try:
                await self.client.delete(path)
            except APIStatusError as e:
                if e.code != 404:
                    raise
            log.info("deleted token secret %s: service account %s is gone", key, account_name)
            return
        data = secret.get("data") or {}
        if data.get("token") and data.get("ca.crt") and data.get("namespace"):
            return
        uid = account["metadata"]["uid"]
        token = self._tokens.issue_legacy(namespace, BoundRef(account_name, uid), name)
        updated = {
            **secret,
            "metadata": {
                **secret["metadata"],
                "annotations": {**annotations, UID_ANNOTATION: uid},
            },
            "data": {
                **data,
                "token": _b64(token),
                "ca.crt": _b64(self._ca_pem),
                "namespace": _b64(namespace),
            },
        }
        await self.client.replace(path, updated)
        log.info("filled token secret %s for service account %s", key, account_name)
