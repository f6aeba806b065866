"""Key rotation: a new log key or filing seal, with overlap; older signatures still verify."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from api.cli import main
from filing.deployment import Deployment
from ledger.audit import audit
from ledger.receipt import Receipt
from verifier.receipt import ReceiptInvalid, verify_receipt
from verifier.signatures import assess
from verifier.trust import TrustBundle


def _receipt_for(data: Path, entry: bytes) -> tuple[Receipt, TrustBundle]:
    d = Deployment.open(data)
    try:
        [index] = d.log.append_many([entry])
        cp = d.sequencer().step()
        assert cp is not None
        return d.log.receipt(index, cp), TrustBundle.from_json(json.dumps(d.trust_bundle()))
    finally:
        d.close()


def test_log_key_rotation_keeps_old_receipts_verifiable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r1, b1 = _receipt_for(data, b"before rotation")
    assert main(["keys", "rotate", "log", "--data", str(data)]) == 0
    r2, b2 = _receipt_for(data, b"during overlap")
    assert len(b2.log_keys) == 2
    # During the overlap both keys sign: holders of either bundle accept.
    for receipt in (r1, r2):
        verify_receipt(receipt, b2)
    verify_receipt(r2, b1)

    assert main(["keys", "rotate", "retire-old-log-keys", "--data", str(data)]) == 0
    r3, b3 = _receipt_for(data, b"after retirement")
    for receipt in (r1, r2, r3):
        verify_receipt(receipt, b3)
    with pytest.raises(ReceiptInvalid):
        verify_receipt(r3, b1)  # the old bundle does not know the new key
    d = Deployment.open(data)
    try:
        assert audit(d.log, d.log_verifiers()).ok
    finally:
        d.close()


def test_filing_seal_rotation_keeps_old_contracts_valid(tmp_path: Path) -> None:
    from tests.pki_helpers import sign_sample_contract

    data = tmp_path / "data"
    d = Deployment.open(data)
    old = sign_sample_contract(d.pki, "CS2026-000001", tmp_path / "cache")
    old_seal = d.pki.filing_seal_certificate()
    d.close()
    assert main(["keys", "rotate", "filing-seal", "--data", str(data)]) == 0
    d = Deployment.open(data)
    try:
        assert d.config.filing_seal == "filing-seal-2"
        new = sign_sample_contract(d.pki, "CS2026-000002", tmp_path / "cache")
        new_seal = d.pki.filing_seal_certificate()
        assert new_seal.serial_number != old_seal.serial_number
        trust = d.verifier_trust()  # names both seals: rotation keeps the old one trusted
        for pdf, seal in ((old, old_seal), (new, new_seal)):
            judged = assess(pdf, trust)
            assert judged.passed, judged.problems()
            reports = judged.signatures
            assert reports[-1].field == "filing-seal" and reports[-1].is_filing_seal
            der = seal.public_bytes(serialization.Encoding.DER)
            assert reports[-1].certificate_sha256 == hashlib.sha256(der).hexdigest()
    finally:
        d.close()


def test_trust_bundle_gives_log_keys_their_validity_periods(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Deployment.open(data).close()
    assert main(["keys", "rotate", "log", "--data", str(data)]) == 0
    assert main(["keys", "rotate", "retire-old-log-keys", "--data", str(data)]) == 0
    d = Deployment.open(data)
    try:
        old, new = d.trust_bundle()["log"]["keys"]
    finally:
        d.close()
    assert old["status"] == "retired" and old["valid_from"] is None and old["valid_until"]
    assert new["status"] == "active" and new["valid_from"] and new["valid_until"] is None
    assert new["valid_from"] <= old["valid_until"]  # the overlap
