"""The access log (who read which personal data, when) and its anchoring in the filing log.

Reads of personal data are recorded in ``access_log`` (append-only). The log's digest enters
the filing log, so that nobody can quietly rewrite who read what. Every ``anchor`` takes the
access-log rows since the last anchor, hashes them chained to the previous anchor's digest,
and appends one entry to the filing log (in the same transaction as the anchor row):

    {"at":"2026-11-27T16:00:00Z","from":1,"kind":"access-log","prev":"<hex>","sha256":"<hex>",
     "to":42,"v":1}

Only the digest is public; the rows (which name who read) stay in the database.
``check`` recomputes every anchor from the rows and compares it with the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from filing.clock import SYSTEM, Clock
from filing.policy import Caller
from ledger.database import write_transaction
from ledger.log import Log

GENESIS = "0" * 64
MAX_ROWS = 100_000
LOCK_TIMEOUT = "5s"

# The API's own tables: the access log, its anchors and the API keys (filing.api_keys).
metadata = MetaData()
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("org", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
)
# The access log and its anchors are append-only (filing/migrations).
APPEND_ONLY = ("access_log", "access_log_anchors")

access_log_anchors = Table(
    "access_log_anchors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("from_id", Integer, nullable=False),
    Column("to_id", Integer, nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Anchor:
    from_id: int
    to_id: int
    digest: str
    log_index: int


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# One access-log row: id, time, org, role, action, subject.
AccessRow = tuple[int, dt.datetime, str, str, str, str]


def _digest(prev: str, rows: list[AccessRow]) -> str:
    h = hashlib.sha256(bytes.fromhex(prev))
    for id_, at, org, role, action, subject in rows:
        stamp = _aware(at).astimezone(dt.UTC).isoformat()
        line = json.dumps([id_, stamp, org, role, action, subject], ensure_ascii=False)
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def _rows(conn: Connection, start: int, end: int | None) -> list[AccessRow]:
    a = access_log
    query = (
        select(a.c.id, a.c.at, a.c.org, a.c.role, a.c.action, a.c.subject)
        .where(a.c.id > start)
        .order_by(a.c.id)
    )
    query = query.where(a.c.id <= end) if end is not None else query.limit(MAX_ROWS)
    return [
        (int(r.id), r.at, str(r.org), str(r.role), str(r.action), str(r.subject))
        for r in conn.execute(query).all()
    ]


def entry(anchor_from: int, anchor_to: int, digest: str, prev: str, at: dt.datetime) -> bytes:
    data = {
        "v": 1,
        "kind": "access-log",
        "from": anchor_from,
        "to": anchor_to,
        "sha256": digest,
        "prev": prev,
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def record_access(
    conn: Connection, caller: Caller, action: str, subject: str, clock: Clock = SYSTEM
) -> None:
    """One read of personal data, in the caller's transaction."""
    conn.execute(
        insert(access_log).values(
            at=clock.now(),
            org=caller.org,
            role=caller.role.value,
            action=action,
            subject=subject,
        )
    )


class AccessLog:
    """The deployment's access log: record reads, anchor them, check the anchors."""

    def __init__(self, engine: Engine, log: Log, clock: Clock = SYSTEM) -> None:
        self.engine = engine
        self.log = log
        self.clock = clock

    def record(self, caller: Caller, action: str, subject: str) -> None:
        """Record a read in its own short write transaction: on SQLite a read that turns
        into a write cannot wait for the writer lock, and the sequencer and dispatcher
        write all the time."""
        with write_transaction(self.engine) as conn:
            record_access(conn, caller, action, subject, self.clock)

    def anchor(self) -> Anchor | None:
        return anchor(self.engine, self.log, self.clock)

    def check(self) -> list[str]:
        return check(self.engine, self.log)


def anchor(engine: Engine, log: Log, clock: Clock = SYSTEM) -> Anchor | None:
    """Anchor the rows since the last anchor; None when there are none.

    On PostgreSQL an id is handed out before its row commits, so a row with a smaller
    id may commit after one with a larger: the anchor first waits for every transaction
    writing the access log and holds off new ones (as ``filing.history`` does), so that
    every id up to the largest it sees is final. Readers recording their access never
    hold the log's append lock, so taking it afterwards cannot deadlock with them.
    Raises ``OperationalError`` if the access log stayed busy for ``LOCK_TIMEOUT``.
    """
    t = access_log_anchors
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            conn.exec_driver_sql("LOCK TABLE access_log IN SHARE ROW EXCLUSIVE MODE")
        last = conn.execute(select(t).order_by(t.c.to_id.desc()).limit(1)).first()
        start, prev = (int(last.to_id), last.digest) if last else (0, GENESIS)
        rows = _rows(conn, start, None)
        if not rows:
            return None
        digest = _digest(prev, rows)
        end = rows[-1][0]
        at = clock.now().replace(microsecond=0)
        [index] = log.append_in(conn, [entry(start + 1, end, digest, prev, at)])
        conn.execute(
            insert(t).values(from_id=start + 1, to_id=end, digest=digest, log_index=index, at=at)
        )
    return Anchor(start + 1, end, digest, index)


def check(engine: Engine, log: Log) -> list[str]:
    """Recompute every anchor from the access log; the problems found (none: all is well)."""
    t = access_log_anchors
    problems = []
    prev = GENESIS
    with engine.connect() as conn:
        anchors = conn.execute(select(t).order_by(t.c.to_id)).all()
        for a in anchors:
            digest = _digest(prev, _rows(conn, a.from_id - 1, a.to_id))
            logged = json.loads(log.entry(a.log_index))
            if digest != a.digest:
                problems.append(f"access log rows {a.from_id}..{a.to_id} changed since anchored")
            if logged.get("sha256") != a.digest or logged.get("prev") != prev:
                problems.append(
                    f"anchor {a.from_id}..{a.to_id} differs from log entry {a.log_index}"
                )
            prev = a.digest
    return problems
