"""The front proxy's credentials, as kubeadm makes them: a CA of its own
(front-proxy-ca.crt) and a client certificate it signs (front-proxy-client, CN
``front-proxy-client``). An aggregated API server trusts the X-Remote-User/Group/Extra
headers only from a client presenting that certificate; it learns the CA and the header
names from the ``extension-apiserver-authentication`` ConfigMap in kube-system."""

from __future__ import annotations

import base64
import binascii
import json
import ssl
from pathlib import Path

from ku7s.pki import CertificateAuthority

CLIENT_NAME = "front-proxy-client"
USER_HEADER, GROUP_HEADER, EXTRA_PREFIX = "X-Remote-User", "X-Remote-Group", "X-Remote-Extra-"
_FILES = ("front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-client.crt",
          "front-proxy-client.key")  # fmt: skip


class FrontProxyCredentials:
    def __init__(self, pki: Path) -> None:
        """Read the credentials from the PKI directory, making them on first use."""
        paths = [pki / name for name in _FILES]
        if not all(p.exists() for p in paths):
            ca = CertificateAuthority.create("front-proxy")
            client = ca.issue_client(CLIENT_NAME)
            for path, content in zip(paths, (ca.cert_pem, ca.key_pem, client.cert_pem,
                                             client.key_pem), strict=True):  # fmt: skip
                path.write_bytes(content)
                if path.suffix == ".key":
                    path.chmod(0o600)
        self.ca_pem = paths[0].read_bytes()
        self._client_cert, self._client_key = paths[2], paths[3]
        #: caBundle (or "" for no check) -> context presenting the client certificate
        self._contexts: dict[str, ssl.SSLContext] = {}

    def ssl_context(self, ca_bundle: str, *, verify: bool = True) -> ssl.SSLContext:
        """A client context presenting the front-proxy certificate, checking the server
        against the base64 caBundle (or not at all: insecureSkipTLSVerify)."""
        key = ca_bundle if verify else "\0insecure"
        context = self._contexts.get(key)
        if context is None:
            if verify:
                try:
                    pem = base64.b64decode(ca_bundle).decode() if ca_bundle else None
                    context = ssl.create_default_context(cadata=pem)
                except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as e:
                    raise ValueError(f"invalid caBundle: {e}") from e
            else:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            context.load_cert_chain(self._client_cert, self._client_key)
            self._contexts[key] = context
        return context

    def authentication_config_map(self, client_ca_pem: str) -> dict[str, object]:
        """kube-system/extension-apiserver-authentication, as kube-apiserver writes it."""
        return {
            "metadata": {"name": "extension-apiserver-authentication"},
            "data": {
                "client-ca-file": client_ca_pem,
                "requestheader-client-ca-file": self.ca_pem.decode(),
                "requestheader-allowed-names": json.dumps([CLIENT_NAME]),
                "requestheader-username-headers": json.dumps([USER_HEADER]),
                "requestheader-group-headers": json.dumps([GROUP_HEADER]),
                "requestheader-extra-headers-prefix": json.dumps([EXTRA_PREFIX]),
            },
        }
