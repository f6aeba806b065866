"""The verifier's later evidence, evidence packages and inputs, attacked.

Every test builds its files from the demo deployment (its log, its log key, its
contracts): a forged continuation of the log signed with the real log key, witnesses
whose keys the bundle lists, foreign evidence packages, malformed receipts and ZIP bombs.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from filing.deployment import Deployment
from ledger.receipt import Receipt, ReceiptError
from tests.helpers import BIN, DemoOutput

# Witnesses the tests' bundles trust; the tests cosign as them where a real witness would.


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
