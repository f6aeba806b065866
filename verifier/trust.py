"""The trust bundle: all a verifier trusts (roots, filing seals, log and witness keys).

It is read strictly: every field of the documented type (docs/formats.md), every
certificate a parsable X.509 certificate, no key given twice in one JSON object,
so that a malformed bundle is refused here and never half-trusted later.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from ledger.canonical import NotCanonical, canonical_base64
from ledger.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteError, Verifier

MAX_TRUST_BUNDLE = 4 * 1024 * 1024
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


class TrustBundleError(ValueError):
    """The trust bundle is malformed."""


@dataclass(frozen=True)
class LogKey:
    """A log key and the period in which it signed checkpoints (None: open-ended)."""

    verifier: Verifier
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None

    def valid_at(self, moment: dt.datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= moment) and (
            self.valid_until is None or moment <= self.valid_until
        )


@dataclass(frozen=True)
class TrustBundle:
    origin: str
    log_keys: tuple[LogKey, ...]
    witness_keys: tuple[Verifier, ...]
    witness_threshold: int
    roots: tuple[bytes, ...] = ()  # DER certificates: roots for signatures
    tsa_roots: tuple[bytes, ...] = ()  # DER: anchors for time-stamps (the TSA certificates)
    filing_seals: tuple[bytes, ...] = ()  # DER certificates of the platform's filing seals

    @property
    def log_verifiers(self) -> tuple[Verifier, ...]:
        return tuple(k.verifier for k in self.log_keys)

    @property
    def distinct_witnesses(self) -> int:
        """Witnesses are counted by public key: one key under two names is one witness."""
        return len({k.public_key for k in self.witness_keys})

    def is_filing_seal(self, certificate_der: bytes) -> bool:
        return certificate_der in self.filing_seals

    @property
    def filing_seal_fingerprints(self) -> tuple[str, ...]:
        return tuple(hashlib.sha256(c).hexdigest() for c in self.filing_seals)

    @classmethod
    def from_json(cls, text: str) -> TrustBundle:
        if len(text) > MAX_TRUST_BUNDLE:
            raise TrustBundleError("trust bundle is too large")
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
            bundle = cls._from_data(data)
        except TrustBundleError:
            raise
        except RecursionError as exc:
            raise TrustBundleError("invalid trust bundle: nested too deeply") from exc
        except (ValueError, NoteError) as exc:
            raise TrustBundleError(f"invalid trust bundle: {exc}") from exc
        if any(k.verifier.alg != ALG_ED25519 for k in bundle.log_keys):
            raise TrustBundleError("the trust bundle needs at least one Ed25519 log key")
        if any(k.alg != ALG_COSIGNATURE_V1 for k in bundle.witness_keys):
            raise TrustBundleError("witness keys must be cosignature/v1 (type 0x04) keys")
        log_public = {k.verifier.public_key for k in bundle.log_keys}
        if any(k.public_key in log_public for k in bundle.witness_keys):
            raise TrustBundleError("a witness key is one of the log's own keys")
        if not 0 <= bundle.witness_threshold <= bundle.distinct_witnesses:
            raise TrustBundleError("witness threshold exceeds the number of distinct witness keys")
        return bundle

    @classmethod
    def _from_data(cls, data: object) -> TrustBundle:
        top = _object(data, "the trust bundle")
        if "version" in top and _int(top["version"], "version") != 1:
            raise TrustBundleError(f"trust bundle version {top['version']!r} unknown")
        log = _object(_field(top, "log"), "log")
        keys = _list(_field(log, "keys"), "log.keys")
        if not keys:
            raise TrustBundleError("the trust bundle needs at least one Ed25519 log key")
        log_keys = []
        for item in keys:
            key = _object(item, "a log key")
            log_keys.append(
                LogKey(
                    _vkey(_field(key, "vkey")),
                    _time(key.get("valid_from")),
                    _time(key.get("valid_until")),
                )
            )
        witnesses = _object(top.get("witnesses", {}), "witnesses")
        witness_keys = tuple(
            _vkey(_field(_object(item, "a witness key"), "vkey"))
            for item in _list(witnesses.get("keys", []), "witnesses.keys")
        )
        return cls(
            _string(_field(log, "origin"), "log.origin"),
            tuple(log_keys),
            witness_keys,
            _int(witnesses.get("threshold", 0), "witnesses.threshold"),
            _certificates(top.get("roots", []), "roots"),
            _certificates(top.get("tsa_roots", []), "tsa_roots"),
            _certificates(top.get("filing_seals", []), "filing_seals"),
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise TrustBundleError(f"key {key[:40]!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> None:
    raise TrustBundleError(f"{name} is not JSON")


def _field(obj: dict[str, Any], name: str) -> object:
    if name not in obj:
        raise TrustBundleError(f"invalid trust bundle: {name!r} is missing")
    return obj[name]


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TrustBundleError(f"{what} must be a JSON object")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise TrustBundleError(f"{what} must be a JSON list")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TrustBundleError(f"{what} must be a non-empty string")
    return value


def _int(value: object, what: str) -> int:
    # bool is an int in Python, and JSON's true is no number.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TrustBundleError(f"{what} must be a non-negative integer")
    return value


def _vkey(value: object) -> Verifier:
    return Verifier.from_vkey(_string(value, "a vkey"))


def _time(value: object) -> dt.datetime | None:
    if value is None:
        return None
    text = _string(value, "a key's validity time")
    if not text.isascii():
        raise TrustBundleError(f"time {text[:40]!r} is not ISO 8601")
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise TrustBundleError(f"time {text[:40]!r} has no UTC offset")
    return moment


def _certificates(items: object, what: str) -> tuple[bytes, ...]:
    return tuple(_certificate(item, what) for item in _list(items, what))


def _certificate(item: object, what: str) -> bytes:
    """One PEM certificate, parsed by both X.509 libraries the verifier relies on."""
    if not isinstance(item, str):
        raise TrustBundleError(f"{what}: a certificate must be a PEM string")
    pem = item.strip()
    if not (pem.startswith(_PEM_BEGIN) and pem.endswith(_PEM_END)):
        raise TrustBundleError(f"{what}: a certificate is not PEM")
    body = "".join(pem[len(_PEM_BEGIN) : -len(_PEM_END)].split())
    try:
        der = canonical_base64(body, "certificate")
    except NotCanonical as exc:
        raise TrustBundleError(f"{what}: a certificate's base64 is invalid: {exc}") from exc
    try:
        x509.load_der_x509_certificate(der)
        # pyHanko parses with asn1crypto, lazily: parse all of it now, not mid-validation.
        _ = asn1_x509.Certificate.load(der, strict=True).native
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, binascii.Error) as exc:
        raise TrustBundleError(f"{what}: not an X.509 certificate: {exc}") from exc
    return der
