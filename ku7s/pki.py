"""The cluster's certificate authority: one CA per cluster, made at create time.

Keys are ECDSA P-256: generating one takes well under a millisecond, where RSA-2048 takes
tens, and kubectl, Go's TLS stack, grpcio and Python's ssl all accept them. Subjects follow
Kubernetes' conventions, so the apiserver reads the user from the certificate's CN and the
groups from its O fields (``system:masters`` for the admin, ``system:nodes`` for kubelets).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=3650)
_CLOCK_SKEW = datetime.timedelta(minutes=5)


#: kubeadm's bootstrap token shape: a public id and a secret, ``abcdef.0123456789abcdef``.
BOOTSTRAP_TOKEN_PATTERN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def new_bootstrap_token() -> str:
    def part(n: int) -> str:
        return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(n))

    return f"{part(6)}.{part(16)}"


class CertificateRequestError(ValueError):
    """A certificate signing request that the CA refuses to sign."""


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def new_csr(key: ec.EllipticCurvePrivateKey, common_name: str) -> bytes:
    """A PEM certificate signing request for a client certificate named common_name."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(common_name))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def common_name_of(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def organizations_of(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def _key_usage(*, certificate_authority: bool) -> x509.KeyUsage:
    """ECDSA keys only sign: certificates and CRLs for the CA, handshakes for the rest."""
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=certificate_authority,
        crl_sign=certificate_authority,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def _load_request(csr_pem: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as e:
        raise CertificateRequestError(f"not a PEM certificate request: {e}") from e
    if not csr.is_signature_valid:
        raise CertificateRequestError("the certificate request's signature is invalid")
    return csr


class CertificateAuthority:
    """Signs serving and client certificates for one cluster."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self._cert = cert
        self._key = key

    @classmethod
    def create(cls, cluster_name: str) -> CertificateAuthority:
        key = new_private_key()
        name = _name(f"ku7s-{cluster_name}-ca")
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                _key_usage(certificate_authority=True),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key must be an ECDSA key")
        return cls(x509.load_pem_x509_certificate(cert_pem), key)

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return private_key_pem(self._key)

    def issue_server(self, common_name: str, dns_names: list[str], ips: list[str]) -> KeyPair:
        """A serving certificate valid for every DNS name and IP address given."""
        key = new_private_key()
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        cert = self._sign(
            _name(common_name), key.public_key(), [ExtendedKeyUsageOID.SERVER_AUTH], sans
        )
        return KeyPair(cert.public_bytes(serialization.Encoding.PEM), private_key_pem(key))

    def issue_client(self, common_name: str, organizations: tuple[str, ...] = ()) -> KeyPair:
        """A client certificate naming a user (CN) and its groups (O)."""
        key = new_private_key()
        cert = self._sign(
            _name(common_name, organizations), key.public_key(), [ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        return KeyPair(cert.public_bytes(serialization.Encoding.PEM), private_key_pem(key))

    def sign_request(
        self,
        csr_pem: bytes,
        expected_common_name: str,
        organizations: tuple[str, ...] = (),
        *,
        serving_names: tuple[str, ...] = (),
    ) -> bytes:
        """Sign a client CSR whose subject is exactly expected_common_name; return PEM.

        The CA sets the groups itself: whatever O fields the requester put in are ignored,
        so a kubelet cannot ask to become system:masters. With serving_names the
        certificate also serves TLS for those DNS names (a kubelet's own API).
        """
        csr = _load_request(csr_pem)
        requested = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not requested or requested[0].value != expected_common_name:
            raise CertificateRequestError(
                f"the certificate request must be for CN={expected_common_name}"
            )
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if serving_names:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        cert = self._sign(
            _name(expected_common_name, organizations),
            csr.public_key(),
            usages,
            [x509.DNSName(n) for n in serving_names],
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def sign_client_request(self, csr_pem: bytes, validity: datetime.timedelta) -> bytes:
        """Sign a CSR approved through the certificates API for client authentication:
        its subject (user and groups) as requested; return PEM."""
        csr = _load_request(csr_pem)
        cert = self._sign(
            csr.subject, csr.public_key(), [ExtendedKeyUsageOID.CLIENT_AUTH], validity=validity
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def _sign(
        self,
        subject: x509.Name,
        public_key: object,
        usages: list[x509.ObjectIdentifier],
        sans: list[x509.GeneralName] | None = None,
        validity: datetime.timedelta = _VALIDITY,
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(certificate_authority=False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self._key, hashes.SHA256())
