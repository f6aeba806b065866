"""One deployment's certificate authority: its hierarchy on disk, issuing and revoking.

``DIR/pki/`` holds the certificates (PEM) and ``registry.sqlite``, the record of
every certificate issued and its revocation; private keys live in the key store.
Creating the hierarchy is idempotent and never replaces an existing key or
certificate.
"""

from __future__ import annotations

import datetime as dt
import enum
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.pki import Endpoints, Profile, build, name
from keys.registry import CertificateRegistry, IssuedCertificate
from keys.store import FileKeyStore

ORGANIZATION = "wangqian platform"
HIERARCHY = (
    # file slug, profile, common name, issuer slug
    ("root-ca", Profile.ROOT_CA, "wangqian Root CA", None),
    ("issuing-ca", Profile.ISSUING_CA, "wangqian Issuing CA", "root-ca"),
    ("tsa", Profile.TSA, "wangqian Time-Stamp Authority", "issuing-ca"),
    ("ocsp", Profile.OCSP, "wangqian OCSP Responder", "issuing-ca"),
)


class CertificateError(Exception):
    """A certificate cannot be issued, found or revoked."""


class RevocationReason(enum.Enum):
    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"

    @property
    def flag(self) -> x509.ReasonFlags:
        return x509.ReasonFlags[self.value]


@dataclass(frozen=True)
class CertificateStatus:
    serial: int
    issuer: str
    revoked_at: dt.datetime | None
    reason: RevocationReason | None
    not_after: dt.datetime

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CertificateAuthority:
    def __init__(self, directory: Path, store: FileKeyStore, endpoints: Endpoints) -> None:
        self.directory = directory
        self.store = store
        self.endpoints = endpoints
        self.registry = CertificateRegistry(directory)
        # Certificate files are written once and never replaced, so a read one stays true.
        self._certificates: dict[str, x509.Certificate] = {}

    @classmethod
    def open(
        cls, directory: Path, store: FileKeyStore, endpoints: Endpoints
    ) -> CertificateAuthority:
        """Open the hierarchy in ``directory``, creating whatever part is missing."""
        ca = cls(directory, store, endpoints)
        directory.mkdir(parents=True, exist_ok=True)
        with ca._locked():
            for slug, profile, cn, issuer_slug in HIERARCHY:
                if (directory / f"{slug}.pem").exists():
                    continue
                key = store.ec_p256(slug)
                issuer = ca.certificate(issuer_slug) if issuer_slug else None
                issuer_key = store.ec_p256(issuer_slug) if issuer_slug else key
                cert = build(
                    profile,
                    name(cn, ORGANIZATION),
                    key.public_key(),
                    issuer,
                    issuer_key,
                    endpoints,
                    issuer_slug or "root-ca",
                )
                ca._register(cert, issuer_slug or slug, profile)
                _write_once(directory / f"{slug}.pem", pem(cert))
        return ca

    # -- reading -------------------------------------------------------------

    def certificate(self, slug: str) -> x509.Certificate:
        cached = self._certificates.get(slug)
        if cached is not None:
            return cached
        path = self.directory / f"{slug}.pem"
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError as exc:
            raise CertificateError(f"no certificate {slug!r} in {self.directory}") from exc
        self._certificates[slug] = cert
        return cert

    @property
    def root(self) -> x509.Certificate:
        return self.certificate("root-ca")

    @property
    def issuing(self) -> x509.Certificate:
        return self.certificate("issuing-ca")

    def chain(self, slug: str) -> list[x509.Certificate]:
        """The certificate and its issuers up to (not including) the root."""
        return [self.certificate(slug), self.issuing]

    def private_key(self, slug: str) -> ec.EllipticCurvePrivateKey:
        return self.store.ec_p256(slug, create=False)

    # -- issuing and revoking ------------------------------------------------

    def ensure(
        self, slug: str, profile: Profile, subject: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.Certificate:
        """The certificate kept as ``slug``, issued for ``public_key`` on first use.

        For keys held elsewhere (a token): the filing seal, enterprise seals.
        """
        path = self.directory / f"{slug}.pem"
        if not path.exists():
            with self._locked():  # one issuer, however many threads and processes ask at once
                if not path.exists():
                    _write_once(path, pem(self._issue(profile, subject, public_key)))
        cert = self.certificate(slug)
        if cert.public_key() != public_key:
            raise CertificateError(f"certificate {slug!r} is for another key")
        return cert

    def issue(
        self,
        profile: Profile,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        validity: dt.timedelta | None = None,
        not_before: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Issue an end-entity certificate from the issuing CA and record it."""
        with self._locked():
            return self._issue(profile, subject, public_key, validity, not_before)

    def _issue(
        self,
        profile: Profile,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        validity: dt.timedelta | None = None,
        not_before: dt.datetime | None = None,
    ) -> x509.Certificate:
        """``issue``, for a caller holding the registry lock."""
        if profile in (Profile.ROOT_CA, Profile.ISSUING_CA):
            raise CertificateError("CAs are created with the hierarchy, not issued")
        cert = build(
            profile,
            subject,
            public_key,
            self.issuing,
            self.private_key("issuing-ca"),
            self.endpoints,
            "issuing-ca",
            not_before=not_before,
            validity=validity,
        )
        self._register(cert, "issuing-ca", profile)
        return cert

    def revoke(self, serial: int, reason: RevocationReason) -> CertificateStatus:
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if not self.registry.revoke(serial, at, reason.value):
            raise CertificateError(f"no certificate with serial {serial:x} was issued here")
        status = self.status(serial)
        assert status is not None
        return status

    def status(self, serial: int) -> CertificateStatus | None:
        """The certificate's status, or None if this CA never issued it."""
        entry = self.registry.get(serial)
        return _status(entry) if entry is not None else None

    def revoked(self, issuer_slug: str) -> list[CertificateStatus]:
        return [_status(e) for e in self.registry.revoked_by(issuer_slug)]

    def crl(
        self, issuer_slug: str, now: dt.datetime | None = None
    ) -> x509.CertificateRevocationList:
        """A freshly signed CRL of ``issuer_slug`` (root-ca or issuing-ca), valid for a day."""
        if issuer_slug not in ("root-ca", "issuing-ca"):
            raise CertificateError(f"{issuer_slug!r} issues no CRL")
        issuer = self.certificate(issuer_slug)
        now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        )
        public = issuer.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False
        )
        for status in self.revoked(issuer_slug):
            assert status.revoked_at is not None and status.reason is not None
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(status.serial)
                .revocation_date(status.revoked_at)
                .add_extension(x509.CRLReason(status.reason.flag), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self.private_key(issuer_slug), hashes.SHA256())

    # -- the registry ----------------------------------------------------------

    def _register(self, cert: x509.Certificate, issuer_slug: str, profile: Profile) -> None:
        self.registry.add(
            cert.serial_number,
            issuer_slug,
            profile.value,
            cert.subject.rfc4514_string(),
            cert.not_valid_after_utc,
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _status(entry: IssuedCertificate) -> CertificateStatus:
    return CertificateStatus(
        entry.serial,
        entry.issuer,
        entry.revoked_at,
        RevocationReason(entry.reason) if entry.reason else None,
        entry.not_after,
    )


def _write_once(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` unless it exists; readers never see it half written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    try:
        os.link(tmp, path)  # atomic, and fails if the path exists: write-once
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
