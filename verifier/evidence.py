"""A court's evidence package: one ZIP holding everything a verification needs.

``contract.pdf``, ``contract.pdf.tlog-proof``, ``trust-bundle.json``, ``history.json`` (the
filing's events, for people to read) and ``log/`` (the log in the tlog-tiles layout, for
later cancellations and changes). The platform builds it (``GET
/v1/court/filings/{no}/evidence``); ``wangqian-verify evidence.zip`` checks it as it is.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from verifier.later import LaterEvidenceUnreadable, LogData

MAX_PACKAGE = 200 * 1024 * 1024
DOCUMENT = "contract.pdf"
RECEIPT = "contract.pdf.tlog-proof"
TRUST = "trust-bundle.json"
LOG = "log/"


class PackageUnreadable(ValueError):
    """Not an evidence package, or one missing a part."""


@dataclass(frozen=True)
class EvidencePackage:
    pdf: bytes
    receipt: str
    trust_json: str
    log_data: LogData | None

    @staticmethod
    def is_package(data: bytes) -> bool:
        return data[:4] == b"PK\x03\x04"

    @classmethod
    def read(cls, data: bytes) -> EvidencePackage:
        if len(data) > MAX_PACKAGE:
            raise PackageUnreadable("evidence package is too large")
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = set(archive.namelist())
            missing = {DOCUMENT, RECEIPT, TRUST} - names
            if missing:
                raise PackageUnreadable(f"evidence package lacks {', '.join(sorted(missing))}")
            pdf = archive.read(DOCUMENT)
            receipt = archive.read(RECEIPT).decode("utf-8")
            trust = archive.read(TRUST).decode("utf-8")
            log_data = (
                LogData.from_files(lambda name, limit: archive.read(LOG + name))
                if LOG + "checkpoint" in names
                else None
            )
        except (zipfile.BadZipFile, UnicodeDecodeError, LaterEvidenceUnreadable) as exc:
            raise PackageUnreadable(f"unreadable evidence package: {exc}") from exc
        return cls(pdf, receipt, trust, log_data)
