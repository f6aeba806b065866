"""``wangqian-verify``: was this exact contract filed, when, signed by whom, still in force?

Exit codes: 0 passed, 1 failed (mismatch, not filed, cancelled, invalid), 2 indeterminate,
3 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path

from ledger.receipt import Receipt, ReceiptError
from verifier.evidence import EvidencePackage, PackageUnreadable
from verifier.later import LaterCheckpoint, LaterEvidenceUnreadable, LogData
from verifier.reports import to_html, to_json, to_text
from verifier.signatures import DocumentUnreadable
from verifier.trust import TrustBundle, TrustBundleError
from verifier.verify import verify

BAD_INPUT = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wangqian-verify",
        description="Verify a filed housing contract offline: its signatures, its receipt "
        "in the filing log, and (given later log data) whether it is still in force.",
    )
    parser.add_argument("pdf", type=Path, help="the contract PDF, or a court's evidence ZIP")
    parser.add_argument("--receipt", type=Path, help="its .tlog-proof receipt")
    parser.add_argument(
        "--trust", type=Path, help="trust-bundle.json (needed unless an evidence ZIP holds one)"
    )
    later = parser.add_mutually_exclusive_group()
    later.add_argument("--log-data", type=Path, help="a copy of the log (tlog-tiles layout)")
    later.add_argument("--later-checkpoint", type=Path, help="a later checkpoint with its proof")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--html", type=Path, metavar="OUT", help="write a printable HTML report")
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    args = parser.parse_args(argv)
    notes = []
    try:
        pdf = args.pdf.read_bytes()
        # Bytes, not read_text: its universal newlines would quietly accept a CRLF receipt.
        receipt_text = args.receipt.read_bytes().decode("utf-8") if args.receipt else None
        trust_text = args.trust.read_text(encoding="utf-8") if args.trust else None
        log_data = LogData.read(args.log_data) if args.log_data else None
        if EvidencePackage.is_package(pdf):
            package = EvidencePackage.read(pdf)
            pdf, receipt_text = package.pdf, receipt_text or package.receipt
            log_data = log_data or package.log_data
            if trust_text is None:
                trust_text = package.trust_json
                notes.append(
                    "trust bundle taken from the evidence package: compare its SHA-256 "
                    f"{hashlib.sha256(trust_text.encode()).hexdigest()} with the platform's "
                    "published one"
                )
        if trust_text is None:
            raise TrustBundleError("--trust is required")
        trust = TrustBundle.from_json(trust_text)
        receipt = Receipt.parse(receipt_text) if receipt_text else None
        later_cp = (
            LaterCheckpoint.parse(args.later_checkpoint.read_bytes().decode("utf-8"))
            if args.later_checkpoint
            else None
        )
        report = verify(pdf, trust, receipt, later=later_cp, log_data=log_data)
        report = dataclasses.replace(report, notes=(*report.notes, *notes))
    except (
        OSError,
        UnicodeDecodeError,
        ReceiptError,
        TrustBundleError,
        LaterEvidenceUnreadable,
        DocumentUnreadable,
        PackageUnreadable,
    ) as exc:
        print(f"bad input: {exc}", file=sys.stderr)
        return BAD_INPUT
    if args.json:
        print(to_json(report))
    else:
        print(to_text(report, args.lang), end="")
    if args.html:
        args.html.write_text(to_html(report, args.lang), encoding="utf-8")
    return report.verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
