"""A court's evidence package: one ZIP holding everything a verification needs.

``contract.pdf``, ``contract.pdf.tlog-proof``, ``trust-bundle.json``, ``history.json`` (the
filing's events, for people to read), ``changes/`` (sealed change agreements and their
receipts), ``funds/`` (the banks' signed fund statements and their receipts) and
``status.tlog-status`` (the filing's latest event as of the receipt's
checkpoint: whether it still stands). Packages made before status proofs carry ``log/``
(the log in the tlog-tiles layout) instead, and are read still. The platform builds it
(``GET /v1/court/filings/{no}/evidence``).

The package comes from whoever hands it over, so it is read as hostile input: only the
members of that layout, each name once, stored or deflated, read streaming with a cap
per member and in total. And its ``trust-bundle.json`` is no trust anchor: whoever made
the package made that too. It counts only when the user pins it by its SHA-256
(``--trust-sha256``); with ``--trust`` it is ignored.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import zipfile
from dataclasses import dataclass

from ledger.receipt import MAX_RECEIPT
from ledger.status_file import MAX_STATUS, StatusFile, StatusFileError
from ledger.tiles import TilePathError, parse_tile_path
from verifier.fund_statement import MAX_EVIDENCE
from verifier.later import LaterEvidenceUnreadable, LogData
from verifier.models import Message
from verifier.signatures import MAX_PDF_SIZE
from verifier.trust import MAX_TRUST_BUNDLE

MAX_PACKAGE = 200 * 1024 * 1024
MAX_MEMBERS = 100_000
MAX_CENTRAL_DIRECTORY = 32 * 1024 * 1024
MAX_TOTAL = 1024 * 1024 * 1024  # all members read, uncompressed: an old package's log dominates
DOCUMENT = "contract.pdf"
RECEIPT = "contract.pdf.tlog-proof"
TRUST = "trust-bundle.json"
STATUS = "status.tlog-status"
LOG = "log/"
_CHUNK = 64 * 1024
_PLAIN_MEMBERS = {
    DOCUMENT,
    RECEIPT,
    TRUST,
    STATUS,
    "README.txt",
    "history.json",
    LOG + "checkpoint",
}
_CHANGE = re.compile(r"changes/(0|[1-9][0-9]{0,18})\.pdf(\.tlog-proof)?")
_FUND = re.compile(r"funds/(0|[1-9][0-9]{0,18})\.json(\.tlog-proof)?")
_DIRECTORY = re.compile(r"(changes|funds|log|log/tile|log/tile/(entries|[0-9]{1,2})(/x[0-9]{3})*)/")
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class PackageUnreadable(ValueError):
    """Not an evidence package, or one missing a part, or one too big to read."""


@dataclass(frozen=True)
class EvidencePackage:
    pdf: bytes
    receipt: str
    trust_bundle: bytes  # the bytes of its trust-bundle.json, as the SHA-256 pin covers them
    # Exactly one of the two: what shows whether the filing still stands.
    status: StatusFile | None
    log_data: LogData | None
    # The filing's fund events: each ``funds/<index>.json`` with its receipt.
    funds: tuple[tuple[bytes, str], ...] = ()

    @property
    def trust_sha256(self) -> str:
        return hashlib.sha256(self.trust_bundle).hexdigest()

    @staticmethod
    def is_package(data: bytes) -> bool:
        return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    @classmethod
    def read(cls, data: bytes) -> EvidencePackage:
        if len(data) > MAX_PACKAGE:
            raise PackageUnreadable("evidence package is too large")
        _check_central_directory(data)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = _Members(archive)
            pdf = members.read(DOCUMENT, MAX_PDF_SIZE)
            receipt = members.read(RECEIPT, MAX_RECEIPT).decode("utf-8")
            trust = members.read(TRUST, MAX_TRUST_BUNDLE)
            has_status, has_log = STATUS in members.names, LOG + "checkpoint" in members.names
            # Without either a package could hide a later cancellation from the court.
            if not has_status and not has_log:
                raise PackageUnreadable(
                    f"evidence package has no {STATUS} (nor log/ data): it cannot show whether "
                    "the filing was cancelled or changed later"
                )
            if has_status and has_log:
                raise PackageUnreadable(f"evidence package holds both {STATUS} and log/")
            status = (
                StatusFile.parse(members.read(STATUS, MAX_STATUS).decode("utf-8"))
                if has_status
                else None
            )
            log_data = (
                LogData.from_files(lambda name, limit: members.read(LOG + name, limit))
                if has_log
                else None
            )
            funds = tuple(
                (
                    members.read(name, MAX_EVIDENCE),
                    members.read(name + ".tlog-proof", MAX_RECEIPT).decode("utf-8"),
                )
                for name in sorted(n for n in members.names if _FUND.fullmatch(n))
                if not name.endswith(".tlog-proof")
            )
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            EOFError,
            OSError,
            UnicodeDecodeError,
            LaterEvidenceUnreadable,
            StatusFileError,
        ) as exc:
            raise PackageUnreadable(f"unreadable evidence package: {exc}") from exc
        return cls(pdf, receipt, trust, status, log_data, funds)


def _check_central_directory(data: bytes) -> None:
    """Refuse an oversized central directory before zipfile parses it all into memory.

    Finds the end record as zipfile does (at the very end, else the last one in the
    final 64 KiB), and its ZIP64 form right before the locator that precedes it.
    """
    end = len(data) - 22
    if data[end : end + 4] != b"PK\x05\x06":
        end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65536 - 22))
    if end < 0 or len(data) - end < 22:
        raise PackageUnreadable("not a ZIP file (no end of central directory)")
    count, size = struct.unpack("<HI", data[end + 10 : end + 16])
    locator = end - 20
    if locator >= 56 and data[locator : locator + 4] == b"PK\x06\x07":
        record = data[locator - 56 : locator]
        if record[:4] == b"PK\x06\x06":
            count, size = struct.unpack("<QQ", record[32:48])
    if count > MAX_MEMBERS or size > MAX_CENTRAL_DIRECTORY:
        raise PackageUnreadable(f"evidence package has too many members (more than {MAX_MEMBERS})")


def _allowed(name: str) -> bool:
    if (
        name in _PLAIN_MEMBERS
        or _CHANGE.fullmatch(name)
        or _FUND.fullmatch(name)
        or _DIRECTORY.fullmatch(name)
    ):
        return True
    if not name.startswith(LOG + "tile/"):
        return False
    try:
        parse_tile_path(name[len(LOG + "tile/") :])
    except TilePathError:
        return False
    return True


class _Members:
    """The package's members by name, read streaming within per-member and total caps."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PackageUnreadable(f"evidence package has more than {MAX_MEMBERS} members")
        self._archive = archive
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if not _allowed(name):
                raise PackageUnreadable(
                    f"evidence package holds an unexpected member {name[:80]!r}"
                )
            if name in self._infos:
                raise PackageUnreadable(f"evidence package holds {name[:80]!r} twice")
            if info.flag_bits & 0x1 or info.compress_type not in _METHODS:
                raise PackageUnreadable(f"{name[:80]!r} is encrypted or compressed unusually")
            self._infos[name] = info
        self.names = frozenset(self._infos)
        self._total = 0

    def read(self, name: str, limit: int) -> bytes:
        info = self._infos.get(name)
        if info is None:
            raise PackageUnreadable(f"evidence package lacks {name}")
        if info.file_size > limit:
            raise PackageUnreadable(f"{name} in the evidence package is larger than {limit} bytes")
        if self._total + info.file_size > MAX_TOTAL:
            raise PackageUnreadable(f"evidence package holds more than {MAX_TOTAL} bytes")
        parts = []
        got = 0
        # zipfile already stops at the declared size; counting again costs nothing.
        with self._archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                got += len(chunk)
                if got > limit or self._total + got > MAX_TOTAL:
                    raise PackageUnreadable(f"{name} in the evidence package is too large")
                parts.append(chunk)
        self._total += got
        return b"".join(parts)


@dataclass(frozen=True)
class TrustChoice:
    """The trust bundle to verify with, or why there is none, and what to tell the user."""

    bundle: bytes | None
    refusal: Message | None  # the INDETERMINATE reason when ``bundle`` is None
    sub_indication: str | None
    notes: tuple[Message, ...] = ()


def choose_trust(package: EvidencePackage, given: bytes | None, pin: str | None) -> TrustChoice:
    """``--trust`` wins and the package's bundle is ignored; else only a pinned one is used."""
    if given is not None:
        if _same_json(given, package.trust_bundle):
            return TrustChoice(given, None, None)
        return TrustChoice(
            given,
            None,
            None,
            (
                Message(
                    "the evidence package's own trust bundle (SHA-256 "
                    f"{package.trust_sha256}) differs from --trust and was ignored",
                    f"证据包自带的信任包（SHA-256 {package.trust_sha256}）与所给的信任包不同，"
                    "已不予采用",
                ),
            ),
        )
    if pin is None:
        return TrustChoice(
            None,
            Message(
                "the evidence package brings its own trust bundle, which proves nothing (whoever "
                "made the package made it too): give --trust with the platform's published "
                "bundle, or --trust-sha256 with its published SHA-256 (this one's is "
                f"{package.trust_sha256})",
                "制作证据包的人也能制作其中的信任包；证据包自带信任包的 SHA-256 为 "
                f"{package.trust_sha256}",
            ),
            "NO_TRUST_ANCHOR",
        )
    if pin != package.trust_sha256:
        return TrustChoice(
            None,
            Message(
                f"the evidence package's trust bundle has SHA-256 {package.trust_sha256}, "
                f"not the pinned {pin}",
                f"证据包自带信任包的 SHA-256 为 {package.trust_sha256}，不是指定的 {pin}",
            ),
            "TRUST_PIN_MISMATCH",
        )
    return TrustChoice(
        package.trust_bundle,
        None,
        None,
        (
            Message(
                f"trust bundle taken from the evidence package, pinned by its SHA-256 {pin}",
                f"信任包取自证据包，经其 SHA-256 {pin} 确认",
            ),
        ),
    )


def _same_json(a: bytes, b: bytes) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except (ValueError, RecursionError):
        return a == b
