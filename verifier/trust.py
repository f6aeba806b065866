"""The trust bundle: all a verifier trusts (roots, filing seals, log and witness keys)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ledger.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteError, Verifier

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----")


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
    tsa_roots: tuple[bytes, ...] = ()  # DER certificates: roots for time-stamps
    filing_seals: tuple[bytes, ...] = ()  # DER certificates of the platform's filing seals

    @property
    def log_verifiers(self) -> tuple[Verifier, ...]:
        return tuple(k.verifier for k in self.log_keys)

    def is_filing_seal(self, certificate_der: bytes) -> bool:
        return certificate_der in self.filing_seals

    @property
    def filing_seal_fingerprints(self) -> tuple[str, ...]:
        return tuple(hashlib.sha256(c).hexdigest() for c in self.filing_seals)

    @classmethod
    def from_json(cls, text: str) -> TrustBundle:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("version", 1) != 1:
                raise TrustBundleError(f"trust bundle version {data.get('version')!r} unknown")
            log = data["log"]
            witnesses = data.get("witnesses", {})
            log_keys = tuple(
                LogKey(
                    Verifier.from_vkey(k["vkey"]),
                    _time(k.get("valid_from")),
                    _time(k.get("valid_until")),
                )
                for k in log["keys"]
            )
            witness_keys = tuple(Verifier.from_vkey(k["vkey"]) for k in witnesses.get("keys", []))
            bundle = cls(
                str(log["origin"]),
                log_keys,
                witness_keys,
                int(witnesses.get("threshold", 0)),
                _certificates(data.get("roots", [])),
                _certificates(data.get("tsa_roots", [])),
                _certificates(data.get("filing_seals", [])),
            )
        except TrustBundleError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, NoteError) as exc:
            raise TrustBundleError(f"invalid trust bundle: {exc}") from exc
        if not bundle.log_keys or any(k.verifier.alg != ALG_ED25519 for k in bundle.log_keys):
            raise TrustBundleError("the trust bundle needs at least one Ed25519 log key")
        if any(k.alg != ALG_COSIGNATURE_V1 for k in bundle.witness_keys):
            raise TrustBundleError("witness keys must be cosignature/v1 (type 0x04) keys")
        if not 0 <= bundle.witness_threshold <= len(bundle.witness_keys):
            raise TrustBundleError("witness threshold exceeds the number of witness keys")
        return bundle


def _time(value: object) -> dt.datetime | None:
    if value is None or value == "":
        return None
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise TrustBundleError(f"time {value!r} has no UTC offset")
    return moment


def _certificates(items: object) -> tuple[bytes, ...]:
    if not isinstance(items, list):
        raise TrustBundleError("certificate lists must be lists of PEM strings")
    out = []
    for item in items:
        match = _PEM.fullmatch(str(item).strip())
        if match is None:
            raise TrustBundleError("a certificate is not PEM")
        try:
            out.append(base64.b64decode("".join(match.group(1).split()), validate=True))
        except binascii.Error as exc:
            raise TrustBundleError(f"a certificate's base64 is invalid: {exc}") from exc
    return tuple(out)
