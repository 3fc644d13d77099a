"""Certificates for the test ground: one throwaway CA and the leaf certificates it signs.

Used for Ingress ``spec.tls`` Secrets, a fleet's default certificate and an SSL-passthrough
backend's own certificate, so a TLS client can tell by the certificate's common name which of
them answered.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Leaf", "TestCa"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Leaf:
    """A certificate and its key, PEM."""

    common_name: str
    cert_pem: bytes
    key_pem: bytes

    def tls_secret(self, name: str, namespace: str) -> dict[str, Any]:
        """A ``kubernetes.io/tls`` Secret holding this certificate."""
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "data": {
                "tls.crt": base64.b64encode(self.cert_pem).decode(),
                "tls.key": base64.b64encode(self.key_pem).decode(),
            },
        }

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write ``<cn>.crt`` and ``<cn>.key`` into ``directory``; return their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert = directory / f"{self.common_name}.crt"
        key = directory / f"{self.common_name}.key"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        key.chmod(0o600)
        return cert, key


class TestCa:
    """A CA that exists only for one test run."""

    __test__ = False  # not a pytest test class

    def __init__(self, common_name: str = "ingress-reconciler test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, *dns_names: str) -> Leaf:
        """A server certificate for ``dns_names`` (the common name when none are given)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names = dns_names or (common_name,)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .sign(self._key, hashes.SHA256())
        )
        return Leaf(common_name, cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))
