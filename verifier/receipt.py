"""Check a tlog-proof receipt: log signature, witness policy and inclusion of the entry."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.merkle import ProofError, leaf_hash, verify_inclusion
from ledger.note import NoteError, open_note
from ledger.receipt import Receipt
from verifier.trust import TrustBundle


class ReceiptInvalid(Exception):
    """The receipt does not prove that the entry was logged."""


@dataclass(frozen=True)
class VerifiedReceipt:
    checkpoint: Checkpoint
    index: int
    entry: bytes
    cosigners: tuple[str, ...]


def verify_receipt(
    receipt: Receipt, trust: TrustBundle, entry: bytes | None = None
) -> VerifiedReceipt:
    """Raise ReceiptInvalid unless ``receipt`` proves ``entry`` (or its ``extra``) is in the log."""
    if entry is None:
        entry = receipt.extra
    elif receipt.extra is not None and receipt.extra != entry:
        raise ReceiptInvalid("the receipt is for a different entry")
    if entry is None:
        raise ReceiptInvalid("no entry given and the receipt carries none")
    try:
        text, _ = open_note(receipt.checkpoint, list(trust.log_keys))
    except NoteError as exc:
        raise ReceiptInvalid(f"checkpoint not signed by a trusted log key: {exc}") from exc
    try:
        checkpoint = Checkpoint.parse(text)
    except CheckpointError as exc:
        raise ReceiptInvalid(f"malformed checkpoint: {exc}") from exc
    if checkpoint.origin != trust.origin:
        raise ReceiptInvalid(f"checkpoint is for log {checkpoint.origin!r}, not {trust.origin!r}")
    cosigners: tuple[str, ...] = ()
    if trust.witness_keys:
        try:
            _, cosigs = open_note(receipt.checkpoint, list(trust.witness_keys))
            cosigners = tuple(s.verifier.name for s in cosigs)
        except NoteError:
            cosigners = ()
    if len(cosigners) < trust.witness_threshold:
        raise ReceiptInvalid(
            f"{len(cosigners)} witness cosignatures, the policy needs {trust.witness_threshold}"
        )
    try:
        verify_inclusion(
            leaf_hash(entry),
            receipt.index,
            checkpoint.size,
            list(receipt.proof),
            checkpoint.root_hash,
        )
    except ProofError as exc:
        raise ReceiptInvalid(f"inclusion proof fails: {exc}") from exc
    return VerifiedReceipt(checkpoint, receipt.index, entry, cosigners)
