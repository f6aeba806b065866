"""The trust bundle: the only thing a verifier trusts (log keys, witness keys, policy)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ledger.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteError, Verifier


class TrustBundleError(ValueError):
    """The trust bundle is malformed."""


@dataclass(frozen=True)
class TrustBundle:
    origin: str
    log_keys: tuple[Verifier, ...]
    witness_keys: tuple[Verifier, ...]
    witness_threshold: int

    @classmethod
    def from_json(cls, text: str) -> TrustBundle:
        try:
            data: dict[str, Any] = json.loads(text)
            log = data["log"]
            witnesses = data.get("witnesses", {})
            log_keys = tuple(Verifier.from_vkey(k["vkey"]) for k in log["keys"])
            witness_keys = tuple(Verifier.from_vkey(k["vkey"]) for k in witnesses.get("keys", []))
            bundle = cls(
                str(log["origin"]), log_keys, witness_keys, int(witnesses.get("threshold", 0))
            )
        except (ValueError, KeyError, TypeError, NoteError) as exc:
            raise TrustBundleError(f"invalid trust bundle: {exc}") from exc
        if not bundle.log_keys or any(k.alg != ALG_ED25519 for k in bundle.log_keys):
            raise TrustBundleError("the trust bundle needs at least one Ed25519 log key")
        if any(k.alg != ALG_COSIGNATURE_V1 for k in bundle.witness_keys):
            raise TrustBundleError("witness keys must be cosignature/v1 (type 0x04) keys")
        if not 0 <= bundle.witness_threshold <= len(bundle.witness_keys):
            raise TrustBundleError("witness threshold exceeds the number of witness keys")
        return bundle
