"""``wangqian-verify``: check a receipt offline against a trust bundle.

Exit codes: 0 passed, 1 failed, 3 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ledger.receipt import Receipt, ReceiptError
from verifier.receipt import ReceiptInvalid, verify_receipt
from verifier.trust import TrustBundle, TrustBundleError

PASSED, FAILED, BAD_INPUT = 0, 1, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wangqian-verify", description="Verify a wangqian log receipt offline."
    )
    parser.add_argument("--receipt", required=True, type=Path, help="the .tlog-proof file")
    parser.add_argument("--trust", required=True, type=Path, help="trust-bundle.json")
    parser.add_argument("--entry", type=Path, help="the entry's bytes (default: the receipt's)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        receipt = Receipt.parse(args.receipt.read_text(encoding="utf-8"))
        trust = TrustBundle.from_json(args.trust.read_text(encoding="utf-8"))
        entry = args.entry.read_bytes() if args.entry else None
    except (OSError, UnicodeDecodeError, ReceiptError, TrustBundleError) as exc:
        print(f"bad input: {exc}", file=sys.stderr)
        return BAD_INPUT
    try:
        result = verify_receipt(receipt, trust, entry)
    except ReceiptInvalid as exc:
        _report(args.json, {"verdict": "FAILED", "reason": str(exc)})
        return FAILED
    _report(
        args.json,
        {
            "verdict": "PASSED",
            "log": result.checkpoint.origin,
            "index": result.index,
            "tree_size": result.checkpoint.size,
            "cosigners": list(result.cosigners),
        },
    )
    return PASSED


def _report(as_json: bool, result: dict[str, object]) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print("\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    sys.exit(main())
