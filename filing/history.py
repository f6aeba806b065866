"""Unit and filing histories chained into the log: a rewritten row of either is caught.

``unit_events`` and ``filing_events`` are append-only in the database, but whoever can
drop the triggers can rewrite them. So, as the access log is (``api/access_anchor.py``),
each history is hashed in a chain whose head enters the filing log: ``anchor`` takes
the rows since a history's last anchor, hashes them chained to that anchor's digest,
and records the new anchor; its log entry follows:

    {"at":"2026-11-27T16:00:00Z","from":1,"history":"unit_events","kind":"history",
     "prev":"<hex>","sha256":"<hex>","to":420,"v":1}

``sha256`` is SHA-256 over ``prev`` (32 bytes) and one line per row ``from``..``to``:
the JSON array of its columns (``COLUMNS``; times in UTC ISO 8601) and a newline.
Only digests are public. ``check`` recomputes every anchor from the rows.

An anchor covers rows ``from``..``to`` of a table whose ids come from a sequence:
on PostgreSQL a row with a smaller id may commit after one with a larger id. So the
anchor is taken under a lock that waits for every transaction writing the table and
holds back new ones (``SHARE ROW EXCLUSIVE``, for milliseconds): every id up to the
largest it sees is then committed or never will be. While waiting it holds nothing,
so it cannot deadlock; it waits at most ``LOCK_TIMEOUT`` and otherwise gives up until
the next time. Appending to the log needs the log's own lock, which a filing holds
while it writes these tables: taking both in one transaction could deadlock with a
filing, so the log entry is appended in a second transaction, for every anchor that
has none yet (``history_anchor_entries``). Anchors run on a timer in ``serve``
(``api/app.py``), whatever filings and cancellations happen, and on
``wangqian admin anchor-histories``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select
from sqlalchemy.exc import OperationalError

from filing import schema
from ledger.database import write_transaction
from ledger.log import Log

GENESIS = "0" * 64
KIND = "history"
LOCK_TIMEOUT = "5s"
MAX_ROWS = 100_000  # per anchor: a backlog is anchored over several rounds

# The columns each history's digest covers, in this order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "unit_events": (
        "id",
        "unit_id",
        "at",
        "actor",
        "event",
        "reason",
        "from_status",
        "to_status",
        "flags",
    ),
    "filing_events": ("id", "filing_number", "event", "log_index", "at", "actor", "reason"),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryAnchor:
    history: str
    from_id: int
    to_id: int
    prev: str
    digest: str
    at: dt.datetime


@dataclass(frozen=True)
class LoggedAnchor:
    anchor: HistoryAnchor
    log_index: int


def _table(history: str) -> Table:
    if history not in COLUMNS:
        raise ValueError(f"no history {history!r}")
    return schema.metadata.tables[history]


def _utc(moment: dt.datetime) -> str:
    # SQLite hands back naive datetimes for what was stored as UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat()


def _line(row: Any, columns: tuple[str, ...]) -> bytes:
    values = [_utc(v) if isinstance(v, dt.datetime) else v for v in row]
    if len(values) != len(columns):
        raise ValueError("row does not have the history's columns")
    return json.dumps(values, ensure_ascii=False).encode() + b"\n"


def rows(conn: Connection, history: str, start: int, end: int | None) -> Iterator[Any]:
    """The rows of ``history`` with ids in (start, end], oldest first."""
    table = _table(history)
    query = (
        select(*(table.c[c] for c in COLUMNS[history]))
        .where(table.c.id > start)
        .order_by(table.c.id)
    )
    query = query.where(table.c.id <= end) if end is not None else query.limit(MAX_ROWS)
    yield from conn.execute(query)


def digest(prev: str, history: str, lines: Iterator[Any]) -> tuple[str, int, int | None]:
    """The chained digest over rows, how many there were, and the last id."""
    h = hashlib.sha256(bytes.fromhex(prev))
    count, last = 0, None
    for row in lines:
        h.update(_line(row, COLUMNS[history]))
        count, last = count + 1, int(row[0])
    return h.hexdigest(), count, last


def entry(anchor: HistoryAnchor) -> bytes:
    """The anchor's log entry: canonical JSON, digests only."""
    data = {
        "v": 1,
        "kind": KIND,
        "history": anchor.history,
        "from": anchor.from_id,
        "to": anchor.to_id,
        "prev": anchor.prev,
        "sha256": anchor.digest,
        "at": anchor.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _last(conn: Connection, history: str) -> tuple[int, str]:
    t = schema.history_anchors
    last = conn.execute(
        select(t.c.to_id, t.c.digest)
        .where(t.c.history == history)
        .order_by(t.c.to_id.desc())
        .limit(1)
    ).first()
    return (int(last.to_id), str(last.digest)) if last else (0, GENESIS)


def anchor_history(engine: Engine, history: str) -> HistoryAnchor | None:
    """Anchor the rows of ``history`` since its last anchor; None if there are none.

    Raises ``OperationalError`` if the table stayed busy for ``LOCK_TIMEOUT``.
    """
    table = _table(history)
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Waits for the table's writers and holds off new ones; self-conflicting, so
            # two anchoring processes take turns. The first statement: nothing else held.
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            conn.exec_driver_sql(f"LOCK TABLE {history} IN SHARE ROW EXCLUSIVE MODE")
        start, prev = _last(conn, history)
        top = conn.execute(select(func.max(table.c.id))).scalar()
        if top is None or int(top) <= start:
            return None
        end = min(int(top), start + MAX_ROWS)
        value, count, last = digest(prev, history, rows(conn, history, start, end))
        if last is None:
            return None  # ids above the last anchor exist no more (cannot happen: append-only)
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        made = HistoryAnchor(history, start + 1, last, prev, value, at)
        conn.execute(
            insert(schema.history_anchors).values(
                history=history, from_id=made.from_id, to_id=last, prev=prev, digest=value, at=at
            )
        )
    log.debug("anchored %s rows %d..%d (%d rows)", history, made.from_id, last, count)
    return made


def log_pending(engine: Engine, ledger: Log) -> list[LoggedAnchor]:
    """Append the log entry of every anchor that has none yet, oldest first."""
    a, e = schema.history_anchors, schema.history_anchor_entries
    # The log's append lock first: two processes logging anchors take turns, and the
    # second finds nothing pending.
    with write_transaction(engine, ledger.locks.append) as conn:
        pending = conn.execute(
            select(a)
            .outerjoin(e, e.c.anchor_id == a.c.id)
            .where(e.c.anchor_id.is_(None))
            .order_by(a.c.id)
        ).all()
        if not pending:
            return []
        anchors = [
            HistoryAnchor(r.history, r.from_id, r.to_id, r.prev, r.digest, _aware(r.at))
            for r in pending
        ]
        indices = ledger.append_in(conn, [entry(x) for x in anchors])
        conn.execute(
            insert(e),
            [{"anchor_id": r.id, "log_index": i} for r, i in zip(pending, indices, strict=True)],
        )
    return [LoggedAnchor(x, i) for x, i in zip(anchors, indices, strict=True)]


def anchor(engine: Engine, ledger: Log) -> list[LoggedAnchor]:
    """Anchor both histories and log every anchor not yet logged."""
    for history in COLUMNS:
        try:
            anchor_history(engine, history)
        except OperationalError as exc:  # lock_timeout: a long transaction; next time
            log.warning("anchoring %s waited too long for its writers; later: %s", history, exc)
    return log_pending(engine, ledger)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class HistoryCheck:
    anchors: int  # anchors in the log, both histories
    rows: int  # rows they cover
    unanchored: dict[str, int]  # rows above each history's last logged anchor
    problems: tuple[str, ...]


def check(conn: Connection, logged: list[tuple[int, dict[str, Any]]]) -> HistoryCheck:
    """Recompute every anchor in the log from the rows (``logged``: index and entry).

    The log is what counts: the entries chain (``prev`` is the last digest, ``from``
    follows the last ``to``) and each digest equals the rows' digest now. An anchor
    row whose entry is missing or different is a problem too.
    """
    problems: list[str] = []
    covered = anchors = 0
    unanchored: dict[str, int] = {}
    by_history: dict[str, list[tuple[int, dict[str, Any]]]] = {h: [] for h in COLUMNS}
    for index, data in logged:
        history = data.get("history")
        if history not in by_history:
            problems.append(f"log entry {index} anchors an unknown history {history!r}")
            continue
        by_history[str(history)].append((index, data))
    for history, entries in by_history.items():
        prev, last_to = GENESIS, 0
        for index, data in entries:
            anchors += 1
            try:
                start, end = int(data["from"]), int(data["to"])
                said_prev, said = str(data["prev"]), str(data["sha256"])
            except (KeyError, TypeError, ValueError):
                problems.append(f"log entry {index} is not a well-formed {history} anchor")
                continue
            if start != last_to + 1 or said_prev != prev:
                problems.append(
                    f"{history} anchor at log index {index} does not follow the one before "
                    f"(rows {start}..{end}, after {last_to})"
                )
            value, count, _ = digest(said_prev, history, rows(conn, history, start - 1, end))
            covered += count
            if value != said:
                problems.append(
                    f"{history} rows {start}..{end} changed since anchored at log index {index}"
                )
            prev, last_to = said, end
        table = _table(history)
        unanchored[history] = int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.id > last_to)
            ).scalar_one()
        )
    problems += _anchor_rows_match(conn, logged)
    return HistoryCheck(anchors, covered, unanchored, tuple(problems))


def _anchor_rows_match(conn: Connection, logged: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """Each recorded anchor's entry is in the log as recorded."""
    a, e = schema.history_anchors, schema.history_anchor_entries
    in_log = {index: data for index, data in logged}
    problems = []
    for r in conn.execute(
        select(a, e.c.log_index).join(e, e.c.anchor_id == a.c.id).order_by(a.c.id)
    ):
        data = in_log.get(int(r.log_index))
        want = (r.history, r.from_id, r.to_id, r.prev, r.digest)
        if (
            data is None
            or (
                data.get("history"),
                data.get("from"),
                data.get("to"),
                data.get("prev"),
                data.get("sha256"),
            )
            != want
        ):
            problems.append(
                f"{r.history} anchor of rows {r.from_id}..{r.to_id} differs from log entry "
                f"{r.log_index}"
            )
    return problems
