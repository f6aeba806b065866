"""The record of every certificate a CA issued and of its revocation.

An SQLite file beside the certificates (``DIR/pki/registry.sqlite``): a status is
one indexed lookup and issuing one insert, however many certificates a city's
buyers have been given (a JSON file rewritten and re-read whole made every OCSP
answer and CRL cost time in proportion to all certificates ever issued). Every
process of a deployment opens the same file; SQLite serialises their writes.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from keys.private_files import private_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,          -- lower-case hex, as in registry.json before
    issuer TEXT NOT NULL,             -- the issuing CA's slug
    profile TEXT NOT NULL,
    subject TEXT NOT NULL,            -- RFC 4514
    not_after TEXT NOT NULL,          -- ISO 8601, UTC
    revoked_at TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS certificates_revoked
    ON certificates (issuer) WHERE revoked_at IS NOT NULL;
"""


class RegistryError(Exception):
    """The registry file cannot be read or written."""


@dataclass(frozen=True)
class IssuedCertificate:
    serial: int
    issuer: str
    profile: str
    subject: str
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    reason: str | None


class CertificateRegistry:
    """Issued certificates by serial; revocations by issuer."""

    FILE = "registry.sqlite"
    LEGACY_FILE = "registry.json"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILE
        self._legacy = directory / self.LEGACY_FILE
        self._ready = False
        if self.path.exists():
            private_sqlite(self.path)  # tightened now, though it may not be opened for a while

    def add(
        self, serial: int, issuer: str, profile: str, subject: str, not_after: dt.datetime
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO certificates (serial, issuer, profile, subject, not_after)"
                " VALUES (?, ?, ?, ?, ?)",
                (_hex(serial), issuer, profile, subject, not_after.isoformat()),
            )

    def get(self, serial: int) -> IssuedCertificate | None:
        with self._read() as db:
            row = db.execute(_SELECT + " WHERE serial = ?", (_hex(serial),)).fetchone()
        return _issued(row) if row is not None else None

    def revoked_by(self, issuer: str) -> list[IssuedCertificate]:
        with self._read() as db:
            rows = db.execute(
                _SELECT + " WHERE issuer = ? AND revoked_at IS NOT NULL ORDER BY serial",
                (issuer,),
            ).fetchall()
        return [_issued(r) for r in rows]

    def revoke(self, serial: int, at: dt.datetime, reason: str) -> bool:
        """Mark ``serial`` revoked unless it already is; False if it was never issued."""
        with self._write() as db:
            known = db.execute(
                "SELECT 1 FROM certificates WHERE serial = ?", (_hex(serial),)
            ).fetchone()
            db.execute(
                "UPDATE certificates SET revoked_at = ?, reason = ?"
                " WHERE serial = ? AND revoked_at IS NULL",
                (at.isoformat(), reason, _hex(serial)),
            )
        return known is not None

    def all(self) -> list[IssuedCertificate]:
        with self._read() as db:
            return [_issued(r) for r in db.execute(_SELECT + " ORDER BY serial")]

    # -- the file --------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            # Subjects name the holders (buyers, by name): for the deployment's eyes only.
            # Created 0600 before SQLite opens it, or tightened if an older release made it.
            private_sqlite(self.path)
        try:
            with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
                if not self._ready:
                    self._prepare(db)
                yield db
        except sqlite3.Error as exc:
            raise RegistryError(f"certificate registry {self.path}: {exc}") from exc

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        self._import_legacy(db)
        self._ready = True

    def _import_legacy(self, db: sqlite3.Connection) -> None:
        """Carry over a registry.json of an older release, once, then set it aside."""
        db.execute("BEGIN IMMEDIATE")  # other processes opening the registry wait here
        try:
            entries: dict[str, dict[str, str | None]] = json.loads(
                self._legacy.read_text(encoding="utf-8")
            )
        except FileNotFoundError:
            db.rollback()
            return
        db.executemany(
            "INSERT OR IGNORE INTO certificates"
            " (serial, issuer, profile, subject, not_after, revoked_at, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    serial,
                    e["issuer"],
                    e["profile"],
                    e["subject"],
                    e["not_after"],
                    e.get("revoked_at"),
                    e.get("reason"),
                )
                for serial, e in entries.items()
            ],
        )
        self._legacy.rename(self._legacy.with_name(self.LEGACY_FILE + ".imported"))
        db.commit()


_SELECT = "SELECT serial, issuer, profile, subject, not_after, revoked_at, reason FROM certificates"


def _hex(serial: int) -> str:
    return format(serial, "x")


def _issued(row: tuple[str, str, str, str, str, str | None, str | None]) -> IssuedCertificate:
    serial, issuer, profile, subject, not_after, revoked_at, reason = row
    return IssuedCertificate(
        int(serial, 16),
        issuer,
        profile,
        subject,
        dt.datetime.fromisoformat(not_after),
        dt.datetime.fromisoformat(revoked_at) if revoked_at else None,
        reason,
    )
