"""The verifier's later evidence, evidence packages and inputs, attacked.

Every test builds its files from the demo deployment (its log, its log key, its
contracts): a forged continuation of the log signed with the real log key, witnesses
whose keys the bundle lists, foreign evidence packages, malformed receipts and ZIP bombs.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from filing.deployment import Deployment
from ledger.checkpoint import Checkpoint
from ledger.note import ALG_COSIGNATURE_V1, Signer, sign_note
from ledger.receipt import Receipt, ReceiptError
from tests.helpers import BIN, DemoOutput
from verifier.models import Indication, Report, Verdict
from verifier.trust import TrustBundle, TrustBundleError
from verifier.verify import verify

# Witnesses the tests' bundles trust; the tests cosign as them where a real witness would.

W1_KEY = Ed25519PrivateKey.generate()

W1 = Signer("w1.example", W1_KEY, ALG_COSIGNATURE_V1)

W1_ALIAS = Signer("w1-alias.example", W1_KEY, ALG_COSIGNATURE_V1)  # same key, another name

W2 = Signer("w2.example", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)


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
        lambda d: json.dumps(d).replace('"threshold": 0', '"threshold": NaN'),
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
