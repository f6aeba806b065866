"""``wangqian-verify``: was this exact contract filed, when, signed by whom, still in force?

Exit codes: 0 passed, 1 failed (mismatch, not filed, cancelled, invalid), 2 indeterminate,
3 bad input. ``--audit-map LOGDIR`` instead audits a copy of the log's status map
(``verifier/map_audit.py``): 0 agrees, 1 disagrees, 2 cannot tell, 3 bad input.
Whatever the input, the user gets a report or one ``bad input: …`` line on stderr, never
a traceback or a library's log lines (``--debug`` shows those).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from ledger.add_checkpoint import MAX_BODY
from ledger.receipt import MAX_RECEIPT, Receipt, ReceiptError
from ledger.status_file import MAX_STATUS, StatusFile, StatusFileError
from verifier.evidence import MAX_PACKAGE, EvidencePackage, PackageUnreadable, choose_trust
from verifier.later import LaterCheckpoint, LaterEvidenceUnreadable, LogData
from verifier.map_audit import audit_log_data
from verifier.map_audit import to_text as to_map_text
from verifier.models import Message, Report
from verifier.reports import to_html, to_json, to_text
from verifier.signatures import DocumentUnreadable
from verifier.trust import MAX_TRUST_BUNDLE, TrustBundle, TrustBundleError
from verifier.verify import verify, without_trust_anchor

BAD_INPUT = 3
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class InputUnreadable(ValueError):
    """A file or an argument the verifier cannot take."""


_BAD_INPUT = (
    OSError,
    UnicodeDecodeError,
    InputUnreadable,
    ReceiptError,
    TrustBundleError,
    LaterEvidenceUnreadable,
    DocumentUnreadable,
    PackageUnreadable,
    StatusFileError,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits 2, which here means INDETERMINATE: a wrong command line is bad input.
        raise InputUnreadable(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wangqian-verify",
        description="Verify a filed housing contract offline: its signatures, its receipt "
        "in the filing log, and (given a status proof or log data) whether it is still in force.",
    )
    parser.add_argument(
        "pdf", type=Path, nargs="?", help="the contract PDF, or a court's evidence ZIP"
    )
    parser.add_argument("--receipt", type=Path, help="its .tlog-proof receipt")
    parser.add_argument("--trust", type=Path, help="the platform's published trust-bundle.json")
    parser.add_argument(
        "--trust-sha256",
        metavar="HEX",
        help="use the evidence ZIP's own trust-bundle.json only if its SHA-256 is HEX "
        "(the published one's); checks --trust's file too when both are given",
    )
    later = parser.add_mutually_exclusive_group()
    later.add_argument("--log-data", type=Path, help="a copy of the log (tlog-tiles layout)")
    later.add_argument("--later-checkpoint", type=Path, help="a later checkpoint with its proof")
    parser.add_argument(
        "--status",
        type=Path,
        help="a .tlog-status proof of the filing's latest event (not with --log-data)",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--html", type=Path, metavar="OUT", help="write a printable HTML report")
    parser.add_argument(
        "--audit-map",
        type=Path,
        metavar="LOGDIR",
        help="instead of a contract: check that the checkpoint of this copy of the log "
        "(tlog-tiles layout) commits to the status map its entries give (needs --trust)",
    )
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    parser.add_argument(
        "--debug", action="store_true", help="show library log messages and tracebacks"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except InputUnreadable as exc:
        return _bad_input(exc)
    with _quiet(args.debug):
        try:
            if args.audit_map is not None:
                return _audit_map(args)
            report = _run(args)
            _emit(report, args)
        except _BAD_INPUT as exc:
            if args.debug:
                raise
            return _bad_input(exc)
        except Exception as exc:  # a bug, yet a court gets one line, and --debug the rest
            if args.debug:
                raise
            return _bad_input(f"the verifier could not process it ({type(exc).__name__}: {exc})")
    return report.verdict.exit_code


def _bad_input(reason: object) -> int:
    line = " ".join(str(reason).split())
    print(f"bad input: {line[:500]}", file=sys.stderr)
    return BAD_INPUT


@contextlib.contextmanager
def _quiet(debug: bool) -> Iterator[None]:
    """pyHanko and its kin log warnings (with tracebacks) for every damaged signature: the
    report says it better. Restored afterwards, for callers of ``main`` in-process."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputUnreadable(f"{path.name} is larger than {limit} bytes")
    return data


def _text(path: Path, limit: int) -> str:
    return _read(path, limit).decode("utf-8")


# What --audit-map takes no part of: it audits the log, not a contract.
_CONTRACT_ONLY = ("pdf", "receipt", "trust_sha256", "log_data", "later_checkpoint", "json", "html")


def _audit_map(args: argparse.Namespace) -> int:
    given = [name for name in _CONTRACT_ONLY if getattr(args, name)]
    if given:
        options = ", ".join("the PDF" if n == "pdf" else "--" + n.replace("_", "-") for n in given)
        raise InputUnreadable(f"--audit-map takes only --trust and --lang, not {options}")
    if args.trust is None:
        raise InputUnreadable("--trust is required")
    trust = TrustBundle.from_json(_text(args.trust, MAX_TRUST_BUNDLE))
    audit = audit_log_data(LogData.read(args.audit_map), trust)
    _write(to_map_text(audit, args.lang))
    return audit.exit_code


def _run(args: argparse.Namespace) -> Report:
    if args.pdf is None:
        raise InputUnreadable("the contract PDF (or evidence ZIP) is required")
    pin = args.trust_sha256
    if pin is not None and not _SHA256.fullmatch(pin):
        raise InputUnreadable("--trust-sha256 takes 64 hexadecimal digits")
    pin = pin.lower() if pin else None
    data = _read(args.pdf, MAX_PACKAGE)
    receipt_text = _text(args.receipt, MAX_RECEIPT) if args.receipt else None
    trust_bytes = _read(args.trust, MAX_TRUST_BUNDLE) if args.trust else None
    if args.status and args.log_data:
        # Two answers to one question, which could disagree: the user picks one.
        raise InputUnreadable("give --status or --log-data, not both")
    status = StatusFile.parse(_text(args.status, MAX_STATUS)) if args.status else None
    log_data = LogData.read(args.log_data) if args.log_data else None
    later = (
        LaterCheckpoint.parse(_text(args.later_checkpoint, MAX_BODY))
        if args.later_checkpoint
        else None
    )
    notes: tuple[Message, ...] = ()
    funds: tuple[tuple[bytes, str], ...] = ()
    pdf = data
    package = EvidencePackage.read(data) if EvidencePackage.is_package(data) else None
    if package is not None:
        pdf = package.pdf
        funds = package.funds
        receipt_text = receipt_text or package.receipt
        if status is None and log_data is None:  # the command line's take the package's place
            status, log_data = package.status, package.log_data
    receipt = Receipt.parse(receipt_text) if receipt_text else None
    if package is not None:
        choice = choose_trust(package, trust_bytes, pin)
        if choice.bundle is None:
            refusal = choice.refusal or Message("", "")
            return without_trust_anchor(pdf, refusal, choice.sub_indication or "")
        trust_bytes, notes = choice.bundle, choice.notes
        # Checked: the contract, its receipt and its status (or the log). The rest is for
        # people to read.
        notes = (
            *notes,
            Message(
                "history.json and changes/ in the package were not verified: verify each change "
                "agreement on its own (its PDF and .tlog-proof)",
                "证据包中的 history.json 和 changes/ 未经核验：每份变更协议请以其自身的文件"
                "和回执单独核验",
            ),
        )
    if trust_bytes is None:
        raise InputUnreadable("--trust is required")
    if pin is not None and hashlib.sha256(trust_bytes).hexdigest() != pin:
        digest = hashlib.sha256(trust_bytes).hexdigest()
        why = Message(
            f"the trust bundle's SHA-256 is {digest}, not the pinned {pin}",
            f"信任包的 SHA-256 为 {digest}，不是指定的 {pin}",
        )
        return without_trust_anchor(pdf, why, "TRUST_PIN_MISMATCH")
    trust = TrustBundle.from_json(trust_bytes.decode("utf-8"))
    report = verify(pdf, trust, receipt, later=later, log_data=log_data, status=status, funds=funds)
    return dataclasses.replace(report, notes=(*report.notes, *notes))


def _emit(report: Report, args: argparse.Namespace) -> None:
    if args.html:
        args.html.write_text(to_html(report, args.lang), encoding="utf-8")
    _write(to_json(report) + "\n" if args.json else to_text(report, args.lang))


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: the reader has what it wanted
        # Python flushes stdout again at exit; point it at nothing so that stays quiet.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except UnicodeEncodeError:  # a terminal that cannot show Chinese
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
