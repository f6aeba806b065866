"""The verifier's later evidence, evidence packages and inputs, attacked.

Every test builds its files from the demo deployment (its log, its log key, its
contracts): a forged continuation of the log signed with the real log key, witnesses
whose keys the bundle lists, foreign evidence packages, malformed receipts and ZIP bombs.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from filing.deployment import Deployment
from ledger.add_checkpoint import AddCheckpoint
from ledger.checkpoint import Checkpoint
from ledger.export import export_log
from ledger.merkle import consistency_proof, leaf_hash, root_hash
from ledger.note import ALG_COSIGNATURE_V1, Signer, sign_note
from ledger.receipt import Receipt, ReceiptError
from ledger.tiles import TILE_WIDTH, TileRef
from tests.helpers import BIN, REPO, DemoOutput
from tests.pki_helpers import issue
from tests.test_verifier import _log, _sealed
from verifier import evidence
from verifier.cli import main as verify_main
from verifier.evidence import EvidencePackage, PackageUnreadable
from verifier.later import LaterCheckpoint, LaterEvidenceUnreadable, LogData
from verifier.models import Indication, Report, Verdict
from verifier.trust import TrustBundle, TrustBundleError
from verifier.verify import verify

# Witnesses the tests' bundles trust; the tests cosign as them where a real witness would.

W1_KEY = Ed25519PrivateKey.generate()

W1 = Signer("w1.example", W1_KEY, ALG_COSIGNATURE_V1)

W1_ALIAS = Signer("w1-alias.example", W1_KEY, ALG_COSIGNATURE_V1)  # same key, another name

W2 = Signer("w2.example", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)

PADDING = b'{"kind":"padding","v":1}'  # an entry that refers to no filing


@pytest.fixture
def deployment(demo: DemoOutput) -> Iterator[Deployment]:
    d = Deployment.open(demo.data)
    yield d
    d.close()


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wangqian-verify"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


_LOG_LINE = re.compile(
    r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|^\S+:\S+:|pyhanko|asn1crypto|certvalidator",
    re.M | re.I,
)


def _assert_one_bad_input_line(stderr: str, case: str) -> None:
    assert "Traceback" not in stderr, (case, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bad input: "), (case, stderr)


def _check(report: Report, name: str) -> tuple[Indication, str | None]:
    [c] = [c for c in report.checks if c.name == name]
    return c.indication, c.sub_indication


def _bundle(demo: DemoOutput, witnesses: list[Signer], threshold: int) -> str:
    data = json.loads(demo.trust_json)
    data["witnesses"] = {
        "threshold": threshold,
        "keys": [{"vkey": w.verifier.vkey} for w in witnesses],
    }
    return json.dumps(data, indent=2)


def _note_text(note: str) -> str:
    return note.rpartition("\n\n")[0] + "\n"


def _cosign(note: str, *witnesses: Signer) -> str:
    return note + "".join(w.signature_line(_note_text(note)) + "\n" for w in witnesses)


def _signed(d: Deployment, size: int, root: bytes, *witnesses: Signer) -> str:
    """A checkpoint signed with the deployment's real log key, cosigned by ``witnesses``."""
    note = sign_note(Checkpoint(d.config.origin, size, root).to_text(), [d.signer])
    return _cosign(note, *witnesses)


def _write_log(directory: Path, data: LogData) -> Path:
    """``data`` in the tlog-tiles layout, as far as the verifier reads it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checkpoint").write_text(data.checkpoint_note, encoding="utf-8")
    size = len(data.entries)
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        chunk = data.entries[n * TILE_WIDTH : (n + 1) * TILE_WIDTH]
        path = directory / TileRef(None, n, len(chunk)).path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(len(e).to_bytes(2, "big") + e for e in chunk))
    return directory


@dataclasses.dataclass
class Cancelled:
    """The demo's cancelled filing, with a receipt from before its cancellation."""

    pdf: bytes
    index: int
    cancel_index: int
    entries: tuple[bytes, ...]  # the whole log as it is now


@pytest.fixture
def cancelled(deployment: Deployment) -> Cancelled:
    with deployment.log.engine.connect() as conn:
        pdf, index = conn.execute(
            text("SELECT sealed_pdf, log_index FROM filings WHERE status = 'CANCELLED'")
        ).one()
    size = deployment.log.size()
    entries = tuple(deployment.log.entries(0, size))
    cancel_index = next(
        i
        for i, e in enumerate(entries)
        if json.loads(e).get("event") == "cancelled" and json.loads(e).get("ref") == index
    )
    return Cancelled(bytes(pdf), int(index), cancel_index, entries)


def _receipt_before_cancellation(d: Deployment, c: Cancelled, *witnesses: Signer) -> Receipt:
    size = c.cancel_index
    note = _signed(d, size, d.log.root_hash(size), *witnesses)
    return Receipt(c.index, tuple(d.log.inclusion_proof(c.index, size)), note, c.entries[c.index])


def _forged_continuation(d: Deployment, c: Cancelled, *witnesses: Signer) -> LogData:
    """The log up to the cancellation, then padding instead: signed with the real log key."""
    entries = (*c.entries[: c.cancel_index], PADDING, PADDING)
    root = root_hash([leaf_hash(e) for e in entries])
    return LogData(_signed(d, len(entries), root, *witnesses), entries)


# -- receipts, later checkpoints and log data in their canonical form only -----------


def _full_receipt(deployment: Deployment, demo: DemoOutput) -> Receipt:
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    receipt = deployment.log.receipt(demo.receipt.index, cp)
    assert receipt.proof and receipt.extra
    return receipt


def _flip_spare_bits(b64: str) -> str:
    """The same bytes, spelled with the unused low bits of the last character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = b64.rstrip("=")
    assert len(body) < len(b64), "needs padding to have spare bits"
    last = alphabet[alphabet.index(body[-1]) ^ 1]
    spelled = body[:-1] + last + b64[len(body) :]
    assert base64.b64decode(spelled) == base64.b64decode(b64)
    return spelled


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _mutations(receipt: Receipt) -> dict[str, str]:
    """Other spellings of ``receipt``: each means the same to a lax parser."""
    good = receipt.to_text()
    head, _, note = good.partition("\n\n")
    header, extra, index, proof0 = head.split("\n")[:4]
    digits = index.removeprefix("index ")
    size = note.split("\n")[1]
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(proof0)).decode()

    def swap(old: str, new: str) -> str:
        assert old in good and old != new
        return good.replace(old, new, 1)

    spellings = {
        "arabic-indic index": swap(index, "index " + digits.translate(ARABIC_INDIC)),
        "fullwidth index": swap(index, "index " + digits.translate(FULLWIDTH)),
        "superscript index": swap(index, "index \u00b2"),
        "plus sign": swap(index, "index +" + digits),
        "leading zero": swap(index, "index 0" + digits),
        "two spaces": swap(index, "index  " + digits),
        "tab": swap(index, "index\t" + digits),
        "trailing space": swap(index, index + " "),
        "nul": swap(index, index + "\x00"),
        "huge index": swap(index, "index " + "9" * 5000),
        "crlf": good.replace("\n", "\r\n"),
        "bom": "\ufeff" + good,
        "spare bits in a proof hash": swap(proof0, _flip_spare_bits(proof0)),
        "unpadded proof hash": swap(proof0, proof0.rstrip("=")),
        "duplicate extra": swap(extra, extra + "\n" + extra),
        "empty extra": swap(extra, "extra "),
        "extra after index": swap(f"{extra}\n{index}", f"{index}\n{extra}"),
        "arabic-indic checkpoint size": swap(f"\n{size}\n", f"\n{size.translate(ARABIC_INDIC)}\n"),
        "no checkpoint": head + "\n",
    }
    if urlsafe != proof0:
        spellings["url-safe base64"] = swap(proof0, urlsafe)
    assert header == "c2sp.org/tlog-proof@v1"
    return spellings


def test_receipts_in_any_non_canonical_form_are_bad_input(
    demo: DemoOutput, deployment: Deployment, tmp_path: Path
) -> None:
    receipt = _full_receipt(deployment, demo)
    assert Receipt.parse(receipt.to_text()) == receipt
    trust = str(demo.out / "trust-bundle.json")
    for name, spelled in _mutations(receipt).items():
        assert spelled != receipt.to_text(), name
        with pytest.raises(ReceiptError):
            Receipt.parse(spelled)
        path = tmp_path / "r.tlog-proof"
        path.write_bytes(spelled.encode("utf-8"))
        run = _cli(demo.out / "contract.pdf", "--receipt", str(path), "--trust", trust)
        assert run.returncode == 3, (name, run.stdout, run.stderr)
        _assert_one_bad_input_line(run.stderr, name)


def test_later_checkpoints_and_log_data_in_non_canonical_form_are_bad_input(
    demo: DemoOutput, deployment: Deployment, tmp_path: Path
) -> None:
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    old = Checkpoint.parse(_note_text(demo.receipt.checkpoint)).size
    body = AddCheckpoint(
        old, tuple(deployment.log.consistency_proof(old, cp.size)), cp.cosigned_note
    )
    good = body.to_text()
    assert LaterCheckpoint.parse(good).old_size == old
    size_line, proof0 = f"\n{cp.size}\n", good.split("\n")[1]
    bad = {
        "arabic-indic old": good.replace(
            f"old {old}\n", f"old {str(old).translate(ARABIC_INDIC)}\n"
        ),
        "plus old": good.replace(f"old {old}\n", f"old +{old}\n"),
        "crlf": good.replace("\n", "\r\n"),
        "spare bits": good.replace(proof0, _flip_spare_bits(proof0), 1),
        "arabic-indic size": good.replace(size_line, size_line.translate(ARABIC_INDIC), 1),
    }
    assert all(spelled != good for spelled in bad.values())
    for name, spelled in bad.items():
        with pytest.raises(LaterEvidenceUnreadable):
            LaterCheckpoint.parse(spelled)
        path = tmp_path / "later"
        path.write_text(spelled, encoding="utf-8")
        run = _cli(
            demo.out / "contract.pdf",
            *("--receipt", str(demo.out / "contract.pdf.tlog-proof")),
            *("--trust", str(demo.out / "trust-bundle.json"), "--later-checkpoint", str(path)),
        )
        assert run.returncode == 3, (name, run.stdout, run.stderr)
        _assert_one_bad_input_line(run.stderr, name)
    # The tlog-tiles checkpoint of log data: its size in ASCII digits only.
    data = LogData(cp.cosigned_note, tuple(deployment.log.entries(0, cp.size)))
    log_dir = _write_log(tmp_path / "log", data)
    arabic = cp.cosigned_note.replace(size_line, size_line.translate(ARABIC_INDIC), 1)
    (log_dir / "checkpoint").write_text(arabic, encoding="utf-8")
    with pytest.raises(LaterEvidenceUnreadable):
        LogData.read(log_dir)


# -- strict trust bundles; witnesses counted by key ----------------------------------


def _deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    "change",
    [
        lambda d: _deep(100_000),
        lambda d: {
            **d,
            "roots": ["-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----"],
        },
        lambda d: {**d, "roots": [base64.b64encode(b"not a certificate at all").decode()]},
        lambda d: {**d, "roots": "-----BEGIN CERTIFICATE-----"},
        lambda d: {**d, "roots": [17]},
        lambda d: {**d, "witnesses": {"threshold": True, "keys": []}},
        lambda d: {**d, "witnesses": {"threshold": "0", "keys": []}},
        lambda d: {**d, "witnesses": {"threshold": 0, "keys": "w1"}},
        lambda d: {**d, "witnesses": {"threshold": 0, "keys": [{"vkey": 7}]}},
        lambda d: {**d, "witnesses": []},
        lambda d: {**d, "log": {**d["log"], "origin": 12}},
        lambda d: {**d, "log": {**d["log"], "keys": {"vkey": "x"}}},
        lambda d: {**d, "log": {**d["log"], "keys": [{**d["log"]["keys"][0], "valid_from": 5}]}},
        lambda d: {
            **d,
            "log": {**d["log"], "keys": [{**d["log"]["keys"][0], "valid_from": "2026-01-01"}]},
        },
        lambda d: {**d, "version": "1"},
        lambda d: [d],
        lambda d: json.dumps(d)[:-1] + ', "roots": []}',  # a key twice
        lambda d: re.sub(r'"threshold": [0-9]+', '"threshold": NaN', json.dumps(d)),
        lambda d: {**d, "witnesses": {"threshold": 2, "keys": [{"vkey": W1.verifier.vkey}]}},
        lambda d: {
            **d,
            "witnesses": {"threshold": 0, "keys": [{"vkey": d["log"]["keys"][0]["vkey"]}]},
        },
    ],
)
def test_malformed_trust_bundles_are_one_line_of_bad_input(
    demo: DemoOutput, change: object, tmp_path: Path
) -> None:
    changed = change(json.loads(demo.trust_json))  # type: ignore[operator]
    text_ = changed if isinstance(changed, str) else json.dumps(changed)
    with pytest.raises(TrustBundleError):
        TrustBundle.from_json(text_)
    (tmp_path / "t.json").write_text(text_, encoding="utf-8")
    run = _cli(
        demo.out / "contract.pdf",
        *(
            "--receipt",
            str(demo.out / "contract.pdf.tlog-proof"),
            "--trust",
            str(tmp_path / "t.json"),
        ),
    )
    assert run.returncode == 3, run.stdout + run.stderr
    _assert_one_bad_input_line(run.stderr, text_[:60])


def test_a_witness_key_that_is_the_log_key_is_refused(
    demo: DemoOutput, deployment: Deployment
) -> None:
    data = json.loads(demo.trust_json)
    same = Signer("w.example", deployment.signer._key, ALG_COSIGNATURE_V1)
    data["witnesses"] = {"threshold": 1, "keys": [{"vkey": same.verifier.vkey}]}
    with pytest.raises(TrustBundleError, match="log's own key"):
        TrustBundle.from_json(json.dumps(data))


def test_witnesses_are_counted_by_key_not_by_name(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    # The bundle lists w1's key twice, under two names: one witness, not two.
    trust = TrustBundle.from_json(_bundle(demo, [W1, W1_ALIAS, W2], 2))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1, W1_ALIAS)
    report = verify(cancelled.pdf, trust, receipt)
    assert report.verdict is Verdict.FAILED
    assert _check(report, "witnesses") == (Indication.FAILED, "WITNESS_POLICY")
    receipt = _receipt_before_cancellation(deployment, cancelled, W1, W2)
    assert verify(cancelled.pdf, trust, receipt).verdict is Verdict.PASSED
    # And a bundle whose threshold only names count could meet is refused outright.
    with pytest.raises(TrustBundleError, match="distinct"):
        TrustBundle.from_json(_bundle(demo, [W1, W1_ALIAS], 2))


# -- later evidence meets the receipt's witness policy -------------------------------


def test_a_forged_unwitnessed_continuation_cannot_hide_a_cancellation(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled, tmp_path: Path
) -> None:
    trust = TrustBundle.from_json(_bundle(demo, [W1], 1))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1)
    honest = LogData(
        _signed(
            deployment, len(cancelled.entries), deployment.log.root_hash(len(cancelled.entries)), W1
        ),
        cancelled.entries,
    )
    report = verify(cancelled.pdf, trust, receipt, log_data=honest)
    assert report.verdict is Verdict.CANCELLED, report.reason

    forged = _forged_continuation(deployment, cancelled)  # the log key alone, no witness
    report = verify(cancelled.pdf, trust, receipt, log_data=forged)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "log-data") == (Indication.INDETERMINATE, "WITNESS_POLICY")
    assert report.filing is not None and report.filing.later_events == ()
    assert report.filing.checked_up_to == cancelled.cancel_index  # it contributed nothing
    # The same through the real command line, with the forgery as a log directory.
    (tmp_path / "receipt").write_text(receipt.to_text(), encoding="utf-8")
    (tmp_path / "trust.json").write_text(_bundle(demo, [W1], 1), encoding="utf-8")
    (tmp_path / "contract.pdf").write_bytes(cancelled.pdf)
    run = _cli(
        tmp_path / "contract.pdf",
        "--receipt",
        str(tmp_path / "receipt"),
        "--trust",
        str(tmp_path / "trust.json"),
        "--log-data",
        str(_write_log(tmp_path / "forged", forged)),
        "--lang",
        "en",
    )
    assert run.returncode == 2 and "Verdict: INDETERMINATE" in run.stdout, run.stdout + run.stderr
    honest_run = _cli(
        tmp_path / "contract.pdf",
        *("--receipt", str(tmp_path / "receipt"), "--trust", str(tmp_path / "trust.json")),
        *("--log-data", str(_write_log(tmp_path / "honest", honest)), "--lang", "en"),
    )
    assert honest_run.returncode == 1 and "Verdict: CANCELLED" in honest_run.stdout


def test_a_forged_later_checkpoint_below_the_threshold_is_indeterminate(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    trust = TrustBundle.from_json(_bundle(demo, [W1, W2], 2))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1, W2)
    assert verify(cancelled.pdf, trust, receipt).verdict is Verdict.PASSED
    forged = _forged_continuation(deployment, cancelled, W1)  # one witness of the two needed
    proof = consistency_proof(
        [leaf_hash(e) for e in forged.entries], cancelled.cancel_index, len(forged.entries)
    )
    body = AddCheckpoint(cancelled.cancel_index, tuple(proof), forged.checkpoint_note).to_text()
    report = verify(cancelled.pdf, trust, receipt, later=LaterCheckpoint.parse(body))
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "later-checkpoint") == (Indication.INDETERMINATE, "WITNESS_POLICY")
    assert report.filing is not None and report.filing.checked_up_to == cancelled.cancel_index
    # With both witnesses it is accepted and moves what the verification saw.
    both = _cosign(forged.checkpoint_note, W2)
    body = AddCheckpoint(cancelled.cancel_index, tuple(proof), both).to_text()
    report = verify(cancelled.pdf, trust, receipt, later=LaterCheckpoint.parse(body))
    assert (
        report.verdict is Verdict.PASSED and _check(report, "consistency")[0] is Indication.PASSED
    )
    assert report.filing is not None and report.filing.checked_up_to == len(forged.entries)


def test_log_data_says_it_read_only_as_far_as_it_goes_even_beside_a_later_checkpoint(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    """A later checkpoint beyond the log data once made the report claim "no cancellation up
    to" the later tree size, though the entries read stopped before the cancellation."""
    trust = TrustBundle.from_json(_bundle(demo, [W1], 1))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1)
    size = cancelled.cancel_index
    short = LogData(receipt.checkpoint, cancelled.entries[:size])
    full = len(cancelled.entries)
    note = _signed(deployment, full, deployment.log.root_hash(full), W1)
    proof = deployment.log.consistency_proof(size, full)
    later = LaterCheckpoint.parse(AddCheckpoint(size, tuple(proof), note).to_text())
    report = verify(cancelled.pdf, trust, receipt, later=later, log_data=short)
    assert report.verdict is Verdict.PASSED, report.reason
    assert report.filing is not None and report.filing.checked_up_to == size
    assert f"up to tree size {size}" in report.reason and str(full) not in report.reason


def test_later_evidence_counts_witnesses_by_key_too(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    trust = TrustBundle.from_json(_bundle(demo, [W1, W1_ALIAS, W2], 2))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1, W2)
    # The forged continuation "cosigned" twice by one key, under its two names.
    forged = _forged_continuation(deployment, cancelled, W1, W1_ALIAS)
    report = verify(cancelled.pdf, trust, receipt, log_data=forged)
    assert report.verdict is Verdict.INDETERMINATE
    assert _check(report, "log-data") == (Indication.INDETERMINATE, "WITNESS_POLICY")


def test_later_evidence_by_an_unknown_key_proves_nothing_and_a_split_view_still_fails(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    trust = TrustBundle.from_json(_bundle(demo, [W1], 1))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1)
    cp = Checkpoint.parse(_note_text(receipt.checkpoint))
    impostor = Signer(cp.origin, Ed25519PrivateKey.generate())
    stranger = sign_note(
        Checkpoint(cp.origin, cp.size, hashlib.sha256(b"x").digest()).to_text(), [impostor]
    )
    report = verify(cancelled.pdf, trust, receipt, later=LaterCheckpoint.parse(stranger))
    assert report.verdict is Verdict.INDETERMINATE
    assert _check(report, "later-checkpoint") == (Indication.INDETERMINATE, "UNKNOWN_LOG_KEY")
    # The real log key signing another root for the receipt's size proves a split view,
    # witnessed or not.
    fork = _signed(deployment, cp.size, hashlib.sha256(b"fork").digest())
    report = verify(cancelled.pdf, trust, receipt, later=LaterCheckpoint.parse(fork))
    assert report.verdict is Verdict.FAILED
    assert _check(report, "consistency") == (Indication.FAILED, "SPLIT_VIEW")


def test_log_data_that_does_not_hash_to_its_checkpoint_contributes_nothing(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    trust = TrustBundle.from_json(_bundle(demo, [W1], 1))
    receipt = _receipt_before_cancellation(deployment, cancelled, W1)
    size = len(cancelled.entries)
    note = _signed(deployment, size, deployment.log.root_hash(size), W1)
    edited = (
        *cancelled.entries[: cancelled.cancel_index],
        PADDING,
        *cancelled.entries[cancelled.cancel_index + 1 :],
    )
    report = verify(cancelled.pdf, trust, receipt, log_data=LogData(note, edited))
    assert report.verdict is Verdict.INDETERMINATE
    assert _check(report, "log-data") == (Indication.INDETERMINATE, "LOG_DATA_INCONSISTENT")


# -- honest verdicts without a receipt -----------------------------------------------


def test_without_a_receipt_the_log_data_decides_only_when_complete_and_witnessed(
    demo: DemoOutput, deployment: Deployment, cancelled: Cancelled
) -> None:
    trust = TrustBundle.from_json(_bundle(demo, [W1], 1))
    entries = cancelled.entries
    witnessed = LogData(
        _signed(deployment, len(entries), deployment.log.root_hash(len(entries)), W1), entries
    )
    # No receipt, no log data: nothing tells either way.
    alone = verify(demo.pdf, trust)
    assert alone.verdict is Verdict.INDETERMINATE
    assert _check(alone, "receipt") == (Indication.INDETERMINATE, "NO_RECEIPT")
    # Complete, witnessed log data: the entry is found by the document's hash.
    report = verify(demo.pdf, trust, log_data=witnessed)
    assert report.verdict is Verdict.PASSED, report.reason
    assert report.filing is not None and report.filing.index == demo.receipt.index
    assert report.filing.cosigners == ("w1.example",)
    report = verify(cancelled.pdf, trust, log_data=witnessed)
    assert report.verdict is Verdict.CANCELLED, report.reason
    # A document the witnessed log does not hold: not filed.
    report = verify(demo.pdf + b"\n% appended\n", trust, log_data=witnessed)
    assert report.verdict is Verdict.NOT_FILED, report.reason
    assert _check(report, "receipt") == (Indication.FAILED, "NOT_IN_LOG")
    # The same log without its witness, or a forged one leaving the filing out: cannot tell.
    unwitnessed = LogData(
        _signed(deployment, len(entries), deployment.log.root_hash(len(entries))), entries
    )
    assert verify(demo.pdf, trust, log_data=unwitnessed).verdict is Verdict.INDETERMINATE
    without = tuple(PADDING if e == entries[demo.receipt.index] else e for e in entries)
    forged = LogData(
        _signed(deployment, len(without), root_hash([leaf_hash(e) for e in without])), without
    )
    report = verify(demo.pdf, trust, log_data=forged)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "receipt") == (Indication.INDETERMINATE, "NO_RECEIPT")
    assert _check(report, "log-data") == (Indication.INDETERMINATE, "WITNESS_POLICY")
    broken = LogData(witnessed.checkpoint_note, without)
    assert verify(demo.pdf, trust, log_data=broken).verdict is Verdict.INDETERMINATE
    # A witnessed copy of the log from before the document was sealed cannot say "not filed".
    sealed = verify(demo.pdf, trust, demo.receipt).signatures[-1].signing_time
    assert sealed is not None
    note = sign_note(
        Checkpoint(
            deployment.config.origin, len(without), root_hash([leaf_hash(e) for e in without])
        ).to_text(),
        [deployment.signer],
    )
    earlier = int(sealed.timestamp()) - 3600
    old = LogData(note + W1.signature_line(_note_text(note), earlier) + "\n", without)
    report = verify(demo.pdf, trust, log_data=old)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "receipt") == (Indication.INDETERMINATE, "LOG_DATA_TOO_OLD")
    fresh = LogData(_cosign(note, W1), without)
    assert verify(demo.pdf, trust, log_data=fresh).verdict is Verdict.NOT_FILED


def test_the_cli_without_a_receipt_uses_the_log_data(
    demo: DemoOutput, deployment: Deployment, tmp_path: Path
) -> None:
    cp = deployment.log.latest_checkpoint()
    assert cp is not None
    log_dir = _write_log(
        tmp_path / "log", LogData(cp.cosigned_note, tuple(deployment.log.entries(0, cp.size)))
    )
    trust = str(demo.out / "trust-bundle.json")
    run = _cli(demo.out / "contract.pdf", "--trust", trust, "--log-data", str(log_dir), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["verdict"] == "PASSED" and report["filing"]["index"] == demo.receipt.index
    (tmp_path / "tampered.pdf").write_bytes(demo.pdf + b"\n% appended\n")
    run = _cli(tmp_path / "tampered.pdf", "--trust", trust, "--log-data", str(log_dir))
    assert run.returncode == 1 and "未备案" in run.stdout, run.stdout + run.stderr
    run = _cli(tmp_path / "tampered.pdf", "--trust", trust)
    assert run.returncode == 2 and "无法确定" in run.stdout, run.stdout + run.stderr


# -- evidence packages: no trust anchor of their own, bounded work -------------------


def _package(
    pdf: bytes, receipt: Receipt, trust_json: str, log: tuple[Deployment, object] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("contract.pdf", pdf)
        z.writestr("contract.pdf.tlog-proof", receipt.to_text())
        z.writestr("trust-bundle.json", trust_json)
        if log is not None:
            d, cp = log
            export_log(d.log, cp, lambda name, data: z.writestr("log/" + name, data))  # type: ignore[arg-type]
    return buffer.getvalue()


def test_a_foreign_evidence_package_is_not_passed_on_its_own_word(
    demo: DemoOutput, deployment: Deployment, tmp_path: Path
) -> None:
    # Another deployment, with its own CA, seal and log key, "files" a contract.
    foreign = Deployment.open(tmp_path / "foreign")
    try:
        seller = issue(foreign.pki, "另一家置业公司")
        pdf = _sealed(foreign, seller, [foreign.pki.ca.issuing], "HT-FOREIGN-1")
        receipt = _log(foreign, pdf)
        foreign_trust = json.dumps(foreign.trust_bundle(), indent=2)
        cp = foreign.log.latest_checkpoint()
        assert verify(pdf, TrustBundle.from_json(foreign_trust), receipt).verdict is Verdict.PASSED
        package = tmp_path / "evidence.zip"
        package.write_bytes(_package(pdf, receipt, foreign_trust, (foreign, cp)))
    finally:
        foreign.close()
    pin = hashlib.sha256(foreign_trust.encode()).hexdigest()

    run = _cli(package, "--json")
    assert run.returncode == 2, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["verdict"] == "INDETERMINATE" and pin in report["reason"]
    assert report["checks"][0]["sub_indication"] == "NO_TRUST_ANCHOR"
    assert "信任包" in _cli(package).stdout  # the Chinese report says why
    wrong = _cli(package, "--trust-sha256", "ab" * 32, "--json")
    assert wrong.returncode == 2
    assert json.loads(wrong.stdout)["checks"][0]["sub_indication"] == "TRUST_PIN_MISMATCH"
    # Checked against the real platform's bundle, the package's own is ignored, and said so.
    real = _cli(package, "--trust", str(demo.out / "trust-bundle.json"), "--json")
    assert real.returncode == 1, real.stdout + real.stderr
    report = json.loads(real.stdout)
    assert report["verdict"] == "FAILED"
    assert any("differs from --trust and was ignored" in n for n in report["notes"])
    # Pinning what the user was told is the published bundle is the user's word.
    pinned = _cli(package, "--trust-sha256", pin.upper(), "--json")
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["verdict"] == "PASSED"


def test_the_trust_pin_checks_a_given_bundle_too(demo: DemoOutput) -> None:
    o = demo.out
    args = [str(o / "contract.pdf"), "--receipt", str(o / "contract.pdf.tlog-proof")]
    args += ["--trust", str(o / "trust-bundle.json")]
    published = hashlib.sha256((o / "trust-bundle.json").read_bytes()).hexdigest()
    assert verify_main([*args, "--trust-sha256", published]) == 0
    assert verify_main([*args, "--trust-sha256", "00" * 32]) == 2
    assert verify_main([*args, "--trust-sha256", "not-hex"]) == 3


def test_a_package_without_status_or_log_is_bad_input_and_a_bare_receipt_says_unchecked(
    demo: DemoOutput, tmp_path: Path
) -> None:
    # Leaving both out would hide a later cancellation from the court: refused, not passed.
    trust_json = (demo.out / "trust-bundle.json").read_text()
    package = tmp_path / "no-log.zip"
    package.write_bytes(_package(demo.pdf, demo.receipt, trust_json))
    with pytest.raises(PackageUnreadable, match="nor log/"):
        EvidencePackage.read(package.read_bytes())
    run = _cli(package, "--trust", demo.out / "trust-bundle.json")
    assert run.returncode == 3 and "nor log/" in run.stderr, run.stdout + run.stderr
    # A receipt alone proves the filing, not that it still stands; the report says so.
    report = verify(demo.pdf, TrustBundle.from_json(trust_json), demo.receipt)
    assert report.verdict is Verdict.PASSED and report.filing is not None
    assert not report.filing.later_checked
    assert any("was not checked" in n.en for n in report.notes)
    run = _cli(
        demo.out / "contract.pdf",
        *("--receipt", demo.out / "contract.pdf.tlog-proof"),
        *("--trust", demo.out / "trust-bundle.json"),
    )
    assert run.returncode == 0 and "备案后是否注销或变更未核查" in run.stdout, run.stdout


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 MiB package whose contract.pdf inflates to 1 GiB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("contract.pdf.tlog-proof", "x")
        z.writestr("trust-bundle.json", "{}")
        with z.open("contract.pdf", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(1024):
                f.write(chunk)
    return path


def test_a_zip_bomb_is_bad_input_at_once_with_bounded_memory(bomb: Path, tmp_path: Path) -> None:
    assert bomb.stat().st_size < 2 << 20
    # VmHWM, not ru_maxrss: that keeps the high-water mark of the (large) pytest process the
    # child was forked from, across exec.
    rss = tmp_path / "vmhwm"
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from verifier.cli import main\n"
            "code = main(sys.argv[2:])\n"
            "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
            "open(sys.argv[1], 'w').write(peak.split()[1])\n"
            "sys.exit(code)\n",
            str(rss),
            str(bomb),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert time.monotonic() - started < 30
    assert run.returncode == 3, run.stdout + run.stderr
    _assert_one_bad_input_line(run.stderr, "bomb")
    assert "larger than" in run.stderr
    assert int(rss.read_text()) < 400 * 1024, "kilobytes: the bomb was inflated"


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which we want
        with zipfile.ZipFile(buffer, "w", method) as z:
            for name, data in members:
                z.writestr(name, data)
    return buffer.getvalue()


def test_a_lying_size_in_the_zip_directory_inflates_no_further(demo: DemoOutput) -> None:
    data = bytearray(
        _zip(
            [
                ("contract.pdf", b"\0" * (20 << 20)),
                ("contract.pdf.tlog-proof", b"x"),
                ("trust-bundle.json", b"{}"),
            ]
        )
    )
    # Claim 10 bytes for contract.pdf in its local header and the central directory.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(sig)
        struct.pack_into("<I", data, at + offset, 10)
    with pytest.raises(PackageUnreadable):
        EvidencePackage.read(bytes(data))


@pytest.mark.parametrize(
    "members",
    [
        [("../contract.pdf", b"%PDF-")],
        [("/etc/contract.pdf", b"%PDF-")],
        [("log/../contract.pdf", b"%PDF-")],
        [("log\\checkpoint", b"x")],
        [("nested/evidence.zip", b"PK\x03\x04")],
        [("log/tile/entries/000.p/0", b"")],
        [("contract.pdf", b"%PDF- again")],  # a duplicate name
        [("changes/01.pdf", b"%PDF-")],
    ],
    ids=["parent", "absolute", "dot-dot", "backslash", "nested", "bad-tile", "duplicate", "zero"],
)
def test_odd_members_of_an_evidence_zip_are_bad_input(
    demo: DemoOutput, members: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    base = [
        ("contract.pdf", demo.pdf),
        ("contract.pdf.tlog-proof", demo.receipt.to_text().encode()),
        ("trust-bundle.json", demo.trust_json.encode()),
    ]
    path = tmp_path / "odd.zip"
    path.write_bytes(_zip(base + members))
    with pytest.raises(PackageUnreadable):
        EvidencePackage.read(path.read_bytes())
    run = _cli(path, "--trust", str(demo.out / "trust-bundle.json"))
    assert run.returncode == 3, run.stdout + run.stderr
    _assert_one_bad_input_line(run.stderr, str(members))


def test_zip_members_are_capped_in_number_in_total_and_in_method(
    demo: DemoOutput, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = [
        ("contract.pdf", demo.pdf),
        ("contract.pdf.tlog-proof", demo.receipt.to_text().encode()),
        ("trust-bundle.json", demo.trust_json.encode()),
    ]
    log: list[tuple[str, bytes]] = []
    export_log(
        deployment.log,
        deployment.log.latest_checkpoint(),  # type: ignore[arg-type]
        lambda name, data: log.append(("log/" + name, data)),
    )
    base += log
    good = _zip(base)
    assert EvidencePackage.read(good).pdf == demo.pdf
    huge = _zip([*base[1:], ("contract.pdf", b"\0" * (50 * 1024 * 1024 + 1))], zipfile.ZIP_STORED)
    with pytest.raises(PackageUnreadable, match="larger than"):
        EvidencePackage.read(huge)
    with pytest.raises(PackageUnreadable, match="compressed unusually"):
        EvidencePackage.read(_zip(base, zipfile.ZIP_BZIP2))
    monkeypatch.setattr(evidence, "MAX_MEMBERS", 2)
    with pytest.raises(PackageUnreadable, match="too many members"):
        EvidencePackage.read(good)  # refused before zipfile reads the whole directory
    monkeypatch.setattr(evidence, "MAX_MEMBERS", 1000)
    monkeypatch.setattr(evidence, "MAX_TOTAL", len(demo.pdf) + 10)
    with pytest.raises(PackageUnreadable, match="more than"):
        EvidencePackage.read(good)


# -- a clean command line ------------------------------------------------------------


def test_the_cli_prints_no_traceback_and_no_library_logs_whatever_the_input(
    demo: DemoOutput, deployment: Deployment, bomb: Path, tmp_path: Path
) -> None:
    o = demo.out
    pdf, receipt, trust = o / "contract.pdf", o / "contract.pdf.tlog-proof", o / "trust-bundle.json"
    at = demo.pdf.index(b"ReportLab")
    files = {
        "tampered.pdf": demo.pdf[:at] + b"Rf" + demo.pdf[at + 2 :],
        "truncated.pdf": demo.pdf[: len(demo.pdf) // 2],
        "empty.pdf": b"",
        "garbage.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40,
        "garbage.tlog-proof": b"\xff\xfe garbage",
        "superscript.tlog-proof": demo.receipt.to_text()
        .replace("index 0", "index \u00b2")
        .encode(),
        "deep.json": _deep(200_000).encode(),
        "notcert.json": json.dumps(
            {
                **json.loads(demo.trust_json),
                "roots": ["-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----"],
            }
        ).encode(),
        "later": b"old 1\nnot base64!\n\nx\n",
        "notzip.zip": b"PK\x03\x04" + b"\0" * 100,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "checkpoint").write_text(
        (deployment.log.latest_checkpoint() or pytest.fail("no checkpoint")).cosigned_note,
        encoding="utf-8",
    )
    t = tmp_path
    cases: list[tuple[list[object], int]] = [
        ([t / "tampered.pdf", "--receipt", receipt, "--trust", trust], 1),
        ([t / "tampered.pdf", "--trust", trust], 1),
        ([t / "garbage.pdf", "--receipt", receipt, "--trust", trust], 3),
        ([t / "truncated.pdf", "--receipt", receipt, "--trust", trust], 3),
        ([t / "empty.pdf", "--trust", trust], 3),
        ([pdf, "--receipt", t / "garbage.tlog-proof", "--trust", trust], 3),
        ([pdf, "--receipt", t / "superscript.tlog-proof", "--trust", trust], 3),
        ([pdf, "--receipt", receipt, "--trust", t / "deep.json"], 3),
        ([pdf, "--receipt", receipt, "--trust", t / "notcert.json"], 3),
        ([pdf, "--receipt", receipt, "--trust", trust, "--later-checkpoint", t / "later"], 3),
        ([pdf, "--receipt", receipt, "--trust", trust, "--log-data", t / "log"], 3),
        ([pdf, "--receipt", receipt, "--trust", trust, "--log-data", t / "nowhere"], 3),
        ([bomb, "--trust", trust], 3),
        ([t / "notzip.zip", "--trust", trust], 3),
        ([t, "--trust", trust], 3),
        ([t / "missing.pdf", "--trust", trust], 3),
        ([pdf], 3),
        ([pdf, "--trust", trust, "--no-such-option"], 3),
        ([pdf, "--trust", trust, "--lang", "fr"], 3),
        (
            [pdf, "--receipt", receipt, "--trust", trust, "--html", t / "no" / "such" / "dir.html"],
            3,
        ),
    ]
    for args, code in cases:
        run = _cli(*args)
        assert run.returncode == code, (args, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr and not _LOG_LINE.search(run.stderr), (
            args,
            run.stderr,
        )
        if code == 3:
            _assert_one_bad_input_line(run.stderr, str(args))
        else:
            assert run.stderr == "", (args, run.stderr)
    # --debug shows what pyHanko had to say about the tampered document.
    run = _cli(t / "tampered.pdf", "--receipt", receipt, "--trust", trust, "--debug")
    assert run.returncode == 1 and _LOG_LINE.search(run.stderr), run.stderr


def test_main_in_process_leaves_logging_as_it_found_it(demo: DemoOutput) -> None:
    import logging

    before = logging.root.manager.disable
    o = demo.out
    assert verify_main([str(o / "contract.pdf"), "--trust", str(o / "trust-bundle.json")]) == 2
    assert logging.root.manager.disable == before
