"""The cluster CA: what it issues and what it refuses to sign."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ku7s import pki


@pytest.fixture(scope="module")
def ca():
    return pki.CertificateAuthority.create("test")


def load(pem):
    return x509.load_pem_x509_certificate(pem)


def test_ca_round_trips_through_pem(ca):
    again = pki.CertificateAuthority.load(ca.cert_pem, ca.key_pem)
    assert again.cert_pem == ca.cert_pem
    assert load(ca.cert_pem).extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_server_certificate_names_and_usage(ca):
    pair = ca.issue_server("kube-apiserver", ["localhost", "dev-control-plane"], ["127.0.0.1"])
    cert = load(pair.cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "dev-control-plane"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    cert.verify_directly_issued_by(load(ca.cert_pem))


def test_client_certificate_carries_user_and_groups(ca):
    pair = ca.issue_client("kubernetes-admin", ("system:masters",))
    cert = load(pair.cert_pem)
    assert pki.common_name_of(cert) == "kubernetes-admin"
    assert pki.organizations_of(cert) == ["system:masters"]
    # Python's ssl accepts the pair, as the CLI's client does.
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    assert context is not None


def test_signing_a_node_request_sets_the_groups(ca):
    key = pki.new_private_key()
    csr = pki.new_csr(key, "system:node:dev-worker")
    cert = load(ca.sign_request(csr, "system:node:dev-worker", ("system:nodes",)))
    assert pki.common_name_of(cert) == "system:node:dev-worker"
    assert pki.organizations_of(cert) == ["system:nodes"]
    cert.verify_directly_issued_by(load(ca.cert_pem))


def test_a_request_for_another_name_is_refused(ca):
    csr = pki.new_csr(pki.new_private_key(), "system:node:other")
    with pytest.raises(pki.CertificateRequestError, match="CN=system:node:dev-worker"):
        ca.sign_request(csr, "system:node:dev-worker")


def test_garbage_is_refused(ca):
    with pytest.raises(pki.CertificateRequestError):
        ca.sign_request(b"not a csr", "system:node:x")


def test_bootstrap_tokens_have_kubeadm_shape():
    tokens = {pki.new_bootstrap_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(pki.BOOTSTRAP_TOKEN_PATTERN.match(t) for t in tokens)


def test_an_approved_client_request_keeps_its_subject_and_asked_lifetime(ca):
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = pki.new_private_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "jane"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    pem = request.public_bytes(pki.serialization.Encoding.PEM)
    cert = x509.load_pem_x509_certificate(ca.sign_client_request(pem, datetime.timedelta(hours=1)))
    assert pki.common_name_of(cert) == "jane" and pki.organizations_of(cert) == ["devs"]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(hours=1) <= lifetime < datetime.timedelta(hours=2)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
