"""The kubelet's identity: a client certificate for CN=system:node:<name>.

On first start the kubelet makes a key and a CSR and trades them, with the bootstrap token,
for a certificate through NodeService.Join. Key and certificate are kept in the state
directory, so a restarted node comes back without the token.
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from ku7s import pki
from ku7s.rpc import node_pb2, node_pb2_grpc

log = logging.getLogger("kubelet.credentials")


class JoinRefused(Exception):
    """The control plane refused the join (wrong token, bad name); retrying will not help."""


@dataclass(frozen=True)
class Credentials:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca_pem, self.key_pem, self.cert_pem)


class CredentialStore:
    def __init__(self, state_dir: Path, ca_path: Path) -> None:
        self._dir = state_dir
        self._ca_path = ca_path

    @property
    def _cert(self) -> Path:
        return self._dir / "kubelet-client.crt"

    @property
    def _key(self) -> Path:
        return self._dir / "kubelet-client.key"

    def serving_context(self) -> ssl.SSLContext:
        """TLS for the kubelet's own API: the node's certificate (it also serves the node's
        name), and clients must show a certificate of the cluster's CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._cert, self._key)
        context.load_verify_locations(cafile=str(self._ca_path))
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def load(self) -> Credentials | None:
        if not (self._cert.exists() and self._key.exists()):
            return None
        return Credentials(
            self._ca_path.read_bytes(), self._cert.read_bytes(), self._key.read_bytes()
        )

    async def join(self, target: str, token: str, node_name: str) -> Credentials:
        """Trade the bootstrap token for a client certificate and keep it."""
        creds = await join(target, token, node_name, self._ca_path.read_bytes())
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = self._key.with_suffix(".tmp")
        tmp.write_bytes(creds.key_pem)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._key)
        self._cert.write_bytes(creds.cert_pem)
        log.info("joined the cluster as system:node:%s", node_name)
        return creds


async def join(target: str, token: str, node_name: str, ca_pem: bytes) -> Credentials:
    """A new key, and its certificate for system:node:<node_name> from NodeService.Join."""
    key = pki.new_private_key()
    csr = pki.new_csr(key, f"system:node:{node_name}")
    channel = grpc.aio.secure_channel(
        target,
        grpc.ssl_channel_credentials(ca_pem),
        options=[("grpc.ssl_target_name_override", target.rsplit(":", 1)[0])],
    )
    try:
        reply = await node_pb2_grpc.NodeServiceStub(channel).Join(
            node_pb2.JoinRequest(token=token, node_name=node_name, csr_pem=csr),
            timeout=10,
            wait_for_ready=True,
        )
    except grpc.aio.AioRpcError as e:
        if e.code() in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.PERMISSION_DENIED,
        ):
            raise JoinRefused(e.details() or str(e.code())) from e
        raise
    finally:
        await channel.close()
    return Credentials(ca_pem, reply.certificate_pem, pki.private_key_pem(key))
