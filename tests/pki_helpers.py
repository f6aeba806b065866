"""A test PKI: one deployment's CA, TSA and revocation data, built in a temporary directory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from filing.seals import PlatformPki
from keys.authority import CertificateAuthority
from keys.pki import Endpoints, Profile, name, new_key
from keys.store import FileKeyStore


@dataclass
class Holder:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def make_pki(directory: Path, url: str = "http://127.0.0.1:8000") -> PlatformPki:
    store = FileKeyStore(directory / "keys", b"test passphrase")
    ca = CertificateAuthority.open(directory / "pki", store, Endpoints(url))
    return PlatformPki(ca, store)


def issue(
    pki: PlatformPki,
    cn: str,
    profile: Profile = Profile.PARTY,
    validity: dt.timedelta | None = None,
    not_before: dt.datetime | None = None,
) -> Holder:
    key = new_key()
    cert = pki.ca.issue(profile, name(cn, serial="TEST"), key.public_key(), validity, not_before)
    return Holder(key, cert)
