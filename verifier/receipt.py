"""Check a tlog-proof receipt: log signature (by a key valid then), witness policy, inclusion."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.merkle import ProofError, leaf_hash, verify_inclusion
from ledger.note import NoteError, VerifiedSignature, open_note, split_note
from ledger.receipt import Receipt
from verifier.models import Check, Indication
from verifier.reports import people_time
from verifier.trust import TrustBundle


class ReceiptInvalid(Exception):
    """The receipt does not prove that the entry was logged."""


@dataclass(frozen=True)
class VerifiedReceipt:
    checkpoint: Checkpoint
    index: int
    entry: bytes
    cosigners: tuple[str, ...]
    log_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    log_signatures: tuple[VerifiedSignature, ...]
    cosignatures: tuple[VerifiedSignature, ...]

    @property
    def witnesses(self) -> tuple[VerifiedSignature, ...]:
        """One cosignature per witness key: a key the bundle lists under two names counts once."""
        seen: set[bytes] = set()
        out = []
        for s in self.cosignatures:
            if s.verifier.public_key not in seen:
                seen.add(s.verifier.public_key)
                out.append(s)
        return tuple(out)

    @property
    def cosigned_at(self) -> dt.datetime | None:
        """The latest witness time on it: when it was known to exist, at the latest."""
        times = [s.timestamp for s in self.cosignatures if s.timestamp is not None]
        return dt.datetime.fromtimestamp(max(times), dt.UTC) if times else None


def _failed(name: str, sub: str, detail: str, zh: str) -> Check:
    return Check(name, Indication.FAILED, detail, sub, detail_zh=zh)


def open_checkpoint(note: str, trust: TrustBundle) -> SignedCheckpoint | Check:
    """The checkpoint if a trusted log key signed it for the bundle's log, else a failed check."""
    try:
        text, log_sigs = open_note(note, list(trust.log_verifiers))
    except NoteError as exc:
        return _failed(
            "log-signature",
            "UNKNOWN_LOG_KEY",
            f"no trusted log key signed it: {exc}",
            "检查点上的签名没有一个出自信任包所列的日志密钥",
        )
    try:
        checkpoint = Checkpoint.parse(text)
    except CheckpointError as exc:
        return _failed(
            "log-signature", "FORMAT_FAILURE", f"malformed checkpoint: {exc}", "检查点格式不符"
        )
    if checkpoint.origin != trust.origin:
        return _failed(
            "log-signature",
            "WRONG_LOG",
            f"checkpoint is for log {checkpoint.origin!r}, not {trust.origin!r}",
            f"检查点属于日志 {checkpoint.origin}，而不是信任包的日志 {trust.origin}",
        )
    try:
        cosigs = _cosignatures(note, trust)
    except NoteError as exc:
        return _failed(
            "witnesses",
            "SIG_CRYPTO_FAILURE",
            f"a cosignature fails: {exc}",
            "有一个见证人联署签名未通过验证",
        )
    return SignedCheckpoint(checkpoint, tuple(log_sigs), tuple(cosigs))


def _cosignatures(note: str, trust: TrustBundle) -> list[VerifiedSignature]:
    """Valid cosignatures by the bundle's witness keys (none is no error: the policy decides)."""
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in trust.witness_keys}
    out: list[VerifiedSignature] = []
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if any(s.verifier == verifier for s in out):
            raise NoteError(f"two cosignatures by the same key {sig.name}")
        out.append(VerifiedSignature(verifier, sig.line, verifier.verify_signature(text, sig.blob)))
    return out


def check_log_key_period(
    signed: SignedCheckpoint, trust: TrustBundle, moment: dt.datetime
) -> Check:
    """At least one key that signed must have been in service at ``moment``."""
    names = {(s.verifier.name, s.verifier.key_id) for s in signed.log_signatures}
    in_service = [
        k
        for k in trust.log_keys
        if (k.verifier.name, k.verifier.key_id) in names and k.valid_at(moment)
    ]
    if not in_service:
        return _failed(
            "log-key-period",
            "LOG_KEY_NOT_VALID_THEN",
            f"no key that signed the checkpoint was in service at {moment.isoformat()}",
            f"签署检查点的日志密钥于 {people_time(moment)} 均不在有效期内",
        )
    return Check(
        "log-key-period",
        Indication.PASSED,
        f"signed by a log key in service at {moment.isoformat()}",
        detail_zh=f"签署检查点的日志密钥于 {people_time(moment)} 在有效期内",
    )


def check_witnesses(signed: SignedCheckpoint, trust: TrustBundle) -> Check:
    count = len(signed.witnesses)
    if count < trust.witness_threshold:
        return _failed(
            "witnesses",
            "WITNESS_POLICY",
            f"{count} witness cosignatures (counted by key), the policy needs "
            f"{trust.witness_threshold}",
            f"见证人联署 {count} 个（按密钥计），规则要求 {trust.witness_threshold} 个",
        )
    return Check(
        "witnesses",
        Indication.PASSED,
        f"{count} witness cosignatures, the policy needs {trust.witness_threshold}",
        detail_zh=f"见证人联署 {count} 个，规则要求 {trust.witness_threshold} 个",
    )


def check_inclusion(receipt: Receipt, entry: bytes, checkpoint: Checkpoint) -> Check:
    try:
        verify_inclusion(
            leaf_hash(entry),
            receipt.index,
            checkpoint.size,
            list(receipt.proof),
            checkpoint.root_hash,
        )
    except ProofError as exc:
        return _failed(
            "inclusion",
            "PROOF_FAILURE",
            f"inclusion proof fails: {exc}",
            f"日志第 {receipt.index} 条的包含证明不能通向大小为 {checkpoint.size} 的日志树",
        )
    return Check(
        "inclusion",
        Indication.PASSED,
        f"entry {receipt.index} is in the tree of size {checkpoint.size}",
        detail_zh=f"日志第 {receipt.index} 条在大小为 {checkpoint.size} 的日志树中",
    )


def verify_receipt(
    receipt: Receipt,
    trust: TrustBundle,
    entry: bytes | None = None,
    moment: dt.datetime | None = None,
) -> VerifiedReceipt:
    """Raise ReceiptInvalid unless ``receipt`` proves ``entry`` (or its ``extra``) is in the log.

    ``moment`` is when the checkpoint was made, for the log key's period; by default
    the latest witness time on it, if any.
    """
    if entry is None:
        entry = receipt.extra
    elif receipt.extra is not None and receipt.extra != entry:
        raise ReceiptInvalid("the receipt is for a different entry")
    if entry is None:
        raise ReceiptInvalid("no entry given and the receipt carries none")
    signed = open_checkpoint(receipt.checkpoint, trust)
    if isinstance(signed, Check):
        raise ReceiptInvalid(signed.detail)
    checks = [check_witnesses(signed, trust), check_inclusion(receipt, entry, signed.checkpoint)]
    moment = moment or signed.cosigned_at
    if moment is not None:
        checks.append(check_log_key_period(signed, trust, moment))
    for check in checks:
        if not check.passed:
            raise ReceiptInvalid(check.detail)
    return VerifiedReceipt(
        signed.checkpoint,
        receipt.index,
        entry,
        tuple(s.verifier.name for s in signed.witnesses),
        tuple(s.verifier.name for s in signed.log_signatures),
    )
