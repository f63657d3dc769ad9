"""The master's small certificate authority and the TLS contexts built on it.

Nodes authenticate with client certificates the master's CA signs from a CSR (the node's private
key never leaves the node); the master's server certificate comes from the same CA, which every
node pins as its only trust anchor. Key, CSR and PEM primitives the node shares are in
``sync_contract.pki``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync_contract.pki import cert_pem, key_pem, load_cert, new_key, write_private

log = logging.getLogger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 825
NODE_CN_PREFIX = "voicegate-node-"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("nur EC-Schlüssel werden unterstützt")
    return key


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str = "KI-Voicegate Master CA", days: int = CA_DAYS,
               ) -> CertificateAuthority:
        key = new_key()
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KI-Voicegate"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert=cert, key=key)

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> CertificateAuthority:
        return cls(cert=load_cert(cert_file.read_bytes()), key=load_key(key_file.read_bytes()))

    def _leaf(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        *,
        usage: x509.ObjectIdentifier,
        not_before: dt.datetime,
        not_after: dt.datetime,
        san: x509.SubjectAlternativeName | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_server_cert(
        self, hosts: list[str], days: int = SERVER_DAYS
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A server certificate for the master, valid for every host name or IP in ``hosts``."""
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        key = new_key()
        now = _now()
        cert = self._leaf(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]),
            key.public_key(),
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=days),
            san=x509.SubjectAlternativeName(names),
        )
        return cert, key

    def sign_node_csr(
        self,
        csr: x509.CertificateSigningRequest,
        node_id: int,
        *,
        days: int,
        not_before: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A client certificate for node ``node_id``; the subject comes from us, never the CSR."""
        if not csr.is_signature_valid:
            raise ValueError("CSR-Signatur ungültig")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ValueError("nur EC-Schlüssel werden unterstützt")
        start = not_before or _now() - dt.timedelta(minutes=5)
        return self._leaf(
            x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KI-Voicegate Knoten"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{NODE_CN_PREFIX}{node_id}"),
            ]),
            public_key,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            not_before=start,
            not_after=start + dt.timedelta(days=days),
        )

    def issued(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` carries this CA's signature."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


# -- the master's files on disk ----------------------------------------------------------------


@dataclass(frozen=True)
class MasterPki:
    """Where the master keeps its CA and server certificate (``<data>/pki``)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    def exists(self) -> bool:
        return self.ca_cert.exists() and self.ca_key.exists()

    def init(self, hosts: list[str]) -> CertificateAuthority:
        """Create the CA (if missing) and a fresh server certificate for ``hosts``."""
        if self.exists():
            ca = self.load_ca()
            log.info("Vorhandene Master-CA in %s wird weiterverwendet", self.directory)
        else:
            ca = CertificateAuthority.create()
            write_private(self.ca_key, key_pem(ca.key))
            self.ca_cert.write_bytes(cert_pem(ca.cert))
            log.info("Master-CA in %s erstellt", self.directory)
        cert, key = ca.issue_server_cert(hosts)
        write_private(self.server_key, key_pem(key))
        self.server_cert.write_bytes(cert_pem(cert))
        log.info("Server-Zertifikat für %s ausgestellt", ", ".join(hosts))
        return ca

    def load_ca(self) -> CertificateAuthority:
        return CertificateAuthority.load(self.ca_cert, self.ca_key)

    def server_context(self) -> ssl.SSLContext:
        """TLS for the master: client certificates are optional (enrolment has none yet) but,
        when presented, must chain to our CA and be within their validity."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.load_verify_locations(cafile=str(self.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx
