"""楼盘表: projects, buildings, units and permits in SQL, and every change as an event.

Functions take the caller's connection, so a filing can change a unit in the
same transaction as everything else it does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, insert, select, update

from filing import schema
from filing.checks import PermitView, UnitView
from filing.clock import SYSTEM
from filing.status import UnitEvent, UnitFlag, UnitStatus, transition
from filing.unit_code import UnitCode, UnitCodeError
from signing.contract import Areas, ContractDataError

REQUIRED = (
    "project",
    "district",
    "address",
    "developer",
    "developer_id",
    "building",
    "code",
    "floor",
    "room",
    "use",
    "forecast_building",
    "forecast_inner",
    "forecast_shared",
)


class RegistryError(Exception):
    """A registry operation cannot be applied."""


class UnknownUnit(RegistryError, LookupError):
    pass


class StaleUnit(RegistryError):
    """The unit changed under us (another transaction got there first)."""


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based, header excluded
    message: str


class ImportRejected(RegistryError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} row(s) rejected; nothing was imported")
        self.errors = errors


def now() -> dt.datetime:
    """The registry's time for the events it records (the system clock, ``filing.clock``);
    the filing service's use-cases take theirs from their injected ``Clock``."""
    return SYSTEM.now()


def parse_inventory(data: bytes, media_type: str) -> list[dict[str, str]]:
    """Rows of a 楼盘表 upload, from CSV (UTF-8, header row) or a JSON list of objects."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([RowError(0, "the file is not UTF-8")]) from exc
    if media_type == "application/json":
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise ImportRejected([RowError(0, f"not JSON: {exc}")]) from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportRejected([RowError(0, "JSON must be a list of objects")])
        return [{str(k): "" if v is None else str(v) for k, v in r.items()} for r in rows]
    return [dict(r) for r in csv.DictReader(io.StringIO(text))]


def _validate(rows: list[dict[str, str]]) -> list[RowError]:
    errors: list[RowError] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        missing = [f for f in REQUIRED if not (row.get(f) or "").strip()]
        if missing:
            errors.append(RowError(n, f"missing {', '.join(missing)}"))
            continue
        try:
            UnitCode(row["code"])
        except UnitCodeError as exc:
            errors.append(RowError(n, str(exc)))
        if row["code"] in seen:
            errors.append(RowError(n, f"unit code {row['code']} appears twice"))
        seen.add(row["code"])
        try:
            int(row["floor"])
            Areas(*(_dec(row[f"forecast_{k}"]) for k in ("building", "inner", "shared")))
            if row.get("measured_building"):
                Areas(*(_dec(row[f"measured_{k}"]) for k in ("building", "inner", "shared")))
        except (ValueError, InvalidOperation, ContractDataError, KeyError) as exc:
            errors.append(RowError(n, f"bad floor or areas: {exc}"))
    return errors


def _dec(value: str) -> Decimal:
    return Decimal(value.strip())


def import_inventory(conn: Connection, rows: list[dict[str, str]], actor: str) -> int:
    """Add the units of a 楼盘表 (all rows or none); returns how many units were added."""
    errors = _validate(rows)
    existing = {
        c
        for (c,) in conn.execute(
            select(schema.units.c.code).where(
                schema.units.c.code.in_([r.get("code", "") for r in rows])
            )
        )
    }
    errors += [
        RowError(n, f"unit {r['code']} already exists")
        for n, r in enumerate(rows, start=1)
        if r.get("code") in existing
    ]
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.row))
    at = now()
    for row in rows:
        project_id = _get_or_create(
            conn,
            schema.projects,
            {"name": row["project"], "developer_id": row["developer_id"]},
            {"district": row["district"], "address": row["address"], "developer": row["developer"]},
        )
        building_id = _get_or_create(
            conn, schema.buildings, {"project_id": project_id, "name": row["building"]}, {}
        )
        values: dict[str, Any] = {
            "building_id": building_id,
            "code": row["code"],
            "floor": int(row["floor"]),
            "room": row["room"],
            "use": row["use"],
            "status": UnitStatus.NOT_RELEASED.value,
            "flags": "",
            "mortgagee_consent": False,
            "completed": False,
            "version": 0,
        }
        for kind in ("forecast", "measured"):
            for part in ("building", "inner", "shared"):
                raw = (row.get(f"{kind}_{part}") or "").strip()
                values[f"{kind}_{part}"] = _dec(raw) if raw else None
        unit_id = conn.execute(insert(schema.units).values(**values)).inserted_primary_key
        assert unit_id is not None
        _event(
            conn,
            int(unit_id[0]),
            at,
            actor,
            "IMPORT",
            "楼盘表 import",
            None,
            UnitStatus.NOT_RELEASED,
            "",
        )
    return len(rows)


def _get_or_create(
    conn: Connection, table: Any, key: Mapping[str, Any], extra: Mapping[str, Any]
) -> int:
    query = select(table.c.id)
    for k, v in key.items():
        query = query.where(table.c[k] == v)
    found = conn.execute(query).scalar()
    if found is not None:
        return int(found)
    pk = conn.execute(insert(table).values(**key, **extra)).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _event(
    conn: Connection,
    unit_id: int,
    at: dt.datetime,
    actor: str,
    event: str,
    reason: str,
    before: UnitStatus | None,
    after: UnitStatus | None,
    flags: str | None,
) -> None:
    conn.execute(
        insert(schema.unit_events).values(
            unit_id=unit_id,
            at=at,
            actor=actor,
            event=event,
            reason=reason,
            from_status=before.value if before else None,
            to_status=after.value if after else None,
            flags=flags,
        )
    )


def add_permit(
    conn: Connection,
    number: str,
    authority: str,
    valid_from: dt.date,
    valid_until: dt.date | None,
    unit_codes: Iterable[str],
    actor: str,
) -> int:
    """Record a presale permit and the units it covers."""
    codes = list(unit_codes)
    pk = conn.execute(
        insert(schema.permits).values(
            number=number,
            authority=authority,
            valid_from=valid_from,
            valid_until=valid_until,
            revoked=False,
        )
    ).inserted_primary_key
    assert pk is not None
    permit_id = int(pk[0])
    ids = dict(
        conn.execute(
            select(schema.units.c.code, schema.units.c.id).where(schema.units.c.code.in_(codes))
        ).all()
    )
    missing = set(codes) - ids.keys()
    if missing:
        raise UnknownUnit(f"no such unit(s): {', '.join(sorted(missing))}")
    conn.execute(
        update(schema.units).where(schema.units.c.id.in_(ids.values())).values(permit_id=permit_id)
    )
    at = now()
    for unit_id in ids.values():
        _event(conn, unit_id, at, actor, "PERMIT", f"presale permit {number}", None, None, None)
    return permit_id


@dataclass(frozen=True)
class UnitRow:
    id: int
    code: str
    status: UnitStatus
    flags: frozenset[UnitFlag]
    reserved_for: str | None
    version: int
    district: str
    developer_id: str


# Units with their building and project: what most unit queries read from.
_UNIT_PROJECT = schema.units.join(
    schema.buildings, schema.units.c.building_id == schema.buildings.c.id
).join(schema.projects, schema.buildings.c.project_id == schema.projects.c.id)


def unit(conn: Connection, code: str) -> UnitRow:
    u, p = schema.units.c, schema.projects.c
    row = conn.execute(
        select(
            u.id, u.code, u.status, u.flags, u.reserved_for, u.version, p.district, p.developer_id
        )
        .select_from(_UNIT_PROJECT)
        .where(u.code == code)
    ).first()
    if row is None:
        raise UnknownUnit(f"no unit {code}")
    return UnitRow(
        int(row[0]), row[1], UnitStatus(row[2]), _flags(row[3]), row[4], int(row[5]), row[6], row[7]
    )


def _flags(text: str) -> frozenset[UnitFlag]:
    return frozenset(UnitFlag(f) for f in text.split(",") if f)


def unit_view(conn: Connection, code: str) -> UnitView:
    u, pm = schema.units.c, schema.permits.c
    row = conn.execute(
        select(
            u.status,
            u.flags,
            u.reserved_for,
            u.mortgagee_consent,
            u.completed,
            u.measured_building,
            pm.number,
            pm.valid_from,
            pm.valid_until,
            pm.revoked,
        )
        .join_from(schema.units, schema.permits, u.permit_id == pm.id, isouter=True)
        .where(u.code == code)
    ).first()
    if row is None:
        raise UnknownUnit(f"no unit {code}")
    permit = None if row[6] is None else PermitView(row[6], row[7], row[8], bool(row[9]))
    return UnitView(
        UnitStatus(row[0]),
        _flags(row[1]),
        row[2],
        bool(row[3]),
        bool(row[4]),
        permit,
        measured=row[5] is not None,
    )


def apply(
    conn: Connection,
    code: str,
    event: UnitEvent,
    actor: str,
    reason: str,
    reserved_for: str | None = None,
    reserved_until: dt.datetime | None = None,
    expect_reserved_for: str | None = None,
) -> UnitStatus:
    """Apply a status event, guarded by the unit's version so racing writers cannot both win."""
    current = unit(conn, code)
    if expect_reserved_for is not None and current.reserved_for != expect_reserved_for:
        raise StaleUnit(f"unit {code} is not reserved for {expect_reserved_for}")
    after = transition(current.status, event)
    held = after in (UnitStatus.RESERVED, UnitStatus.RESALE_RESERVED)
    holder = reserved_for or current.reserved_for
    if event in (UnitEvent.RELEASE_RESALE_RESERVATION, UnitEvent.CANCEL_RESALE_FILING):
        # Back to its owners: held again by the purchase that made them owners (none for a
        # home imported from the register), not by the resale that did not happen.
        holder = _holder_of_record(conn, current.id)
    result = conn.execute(
        update(schema.units)
        .where(schema.units.c.id == current.id, schema.units.c.version == current.version)
        .values(
            status=after.value,
            version=current.version + 1,
            reserved_for=holder if after.holds_contract else None,
            reserved_until=reserved_until if held else None,
        )
    )
    if result.rowcount != 1:
        raise StaleUnit(f"unit {code} changed concurrently")
    _event(conn, current.id, now(), actor, event.value, reason, current.status, after, None)
    return after


def _holder_of_record(conn: Connection, unit_id: int) -> str | None:
    """The contract whose registered purchase made the unit's current owners its owners."""
    o, f = schema.ownerships.c, schema.filings.c
    return conn.execute(
        select(f.contract_id)
        .select_from(schema.ownerships)
        .join(schema.filings, f.number == o.filing_number)
        .where(o.unit_id == unit_id)
        .order_by(o.id.desc())
        .limit(1)
    ).scalar()


def set_flag(
    conn: Connection, code: str, flag: UnitFlag, on: bool, actor: str, reason: str
) -> frozenset[UnitFlag]:
    current = unit(conn, code)
    flags = current.flags | {flag} if on else current.flags - {flag}
    text = ",".join(sorted(f.value for f in flags))
    result = conn.execute(
        update(schema.units)
        .where(schema.units.c.id == current.id, schema.units.c.version == current.version)
        .values(flags=text, version=current.version + 1)
    )
    if result.rowcount != 1:
        raise StaleUnit(f"unit {code} changed concurrently")
    _event(
        conn,
        current.id,
        now(),
        actor,
        ("SET_" if on else "CLEAR_") + flag.value,
        reason,
        None,
        None,
        text,
    )
    return flags


def note(conn: Connection, code: str, actor: str, event: str, reason: str) -> None:
    """Record in the unit's history an event that changes neither status nor flags (a
    mortgage's consent, say). ``reason`` is public to every role: no personal data."""
    _event(conn, unit(conn, code).id, now(), actor, event, reason, None, None, None)


def history(conn: Connection, code: str) -> list[dict[str, Any]]:
    e = schema.unit_events.c
    current = unit(conn, code)
    rows = conn.execute(
        select(e.at, e.actor, e.event, e.reason, e.from_status, e.to_status, e.flags)
        .where(e.unit_id == current.id)
        .order_by(e.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def unit_details(conn: Connection, code: str) -> dict[str, Any]:
    """What a contract needs to say about a unit: its project, building, areas and permit."""
    u, b, p, pm = schema.units.c, schema.buildings.c, schema.projects.c, schema.permits.c
    row = conn.execute(
        select(
            u.code,
            u.floor,
            u.room,
            u.use,
            u.forecast_building,
            u.forecast_inner,
            u.forecast_shared,
            u.measured_building,
            u.measured_inner,
            u.measured_shared,
            u.status,
            u.completed,
            u.registration_certificate,
            b.name.label("building"),
            p.name.label("project"),
            b.id.label("building_id"),
            b.project_id,
            p.district,
            p.address,
            p.developer,
            p.developer_id,
            pm.number.label("permit_number"),
            pm.authority.label("permit_authority"),
        )
        .select_from(_UNIT_PROJECT)
        .join(schema.permits, u.permit_id == pm.id, isouter=True)
        .where(u.code == code)
    ).first()
    if row is None:
        raise UnknownUnit(f"no unit {code}")
    return dict(row._mapping)


def list_units(
    conn: Connection, status: UnitStatus | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    u, b, p = schema.units.c, schema.buildings.c, schema.projects.c
    query = (
        select(
            u.code,
            u.floor,
            u.room,
            u.use,
            u.status,
            u.flags,
            u.forecast_building,
            b.name.label("building"),
            p.name.label("project"),
            p.district,
        )
        .select_from(_UNIT_PROJECT)
        .order_by(u.code)
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(u.status == status.value)
    return [dict(r._mapping) for r in conn.execute(query)]


# -- what a contract says about a unit -------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """The latest completion record of a unit's building (竣工验收, 实测报告)."""

    acceptance_record: str
    survey_report: str
    recorded_by: str
    at: dt.datetime


@dataclass(frozen=True)
class UnitFacts:
    """What the 楼盘表 says about a unit for its contract, and what its checks read."""

    code: str
    project: str
    building: str
    district: str
    address: str
    developer: str
    developer_id: str
    floor: int
    room: str
    use: str
    forecast: Areas
    measured: Areas | None
    permit_number: str | None
    permit_authority: str | None
    completion: Completion | None
    view: UnitView


def unit_facts(conn: Connection, code: str) -> UnitFacts:
    u, b, p, pm = schema.units.c, schema.buildings.c, schema.projects.c, schema.permits.c
    row = conn.execute(
        select(
            u.code,
            p.name,
            b.name,
            p.district,
            p.address,
            p.developer,
            p.developer_id,
            u.floor,
            u.room,
            u.use,
            u.forecast_building,
            u.forecast_inner,
            u.forecast_shared,
            u.measured_building,
            u.measured_inner,
            u.measured_shared,
            pm.number,
            pm.authority,
            b.id,
        )
        .select_from(_UNIT_PROJECT)
        .join(schema.permits, u.permit_id == pm.id, isouter=True)
        .where(u.code == code)
    ).first()
    if row is None:
        raise UnknownUnit(f"no unit {code}")
    c = schema.building_completions.c
    done = conn.execute(
        select(c.acceptance_record, c.survey_report, c.recorded_by, c.at)
        .where(c.building_id == row[18])
        .order_by(c.id.desc())
        .limit(1)
    ).first()
    return UnitFacts(
        *row[:10],
        forecast=Areas(row[10], row[11], row[12]),
        measured=None if row[13] is None else Areas(row[13], row[14], row[15]),
        permit_number=row[16],
        permit_authority=row[17],
        completion=None if done is None else Completion(*done),
        view=unit_view(conn, code),
    )


# -- 竣工验收 and measured areas ---------------------------------------------------------

AREA_LIMIT = Decimal("1e8")  # Numeric(10, 2)
# A unit whose measured areas a contract may already state: changing them is a correction.
_HELD = (UnitStatus.RESERVED, UnitStatus.FILED, UnitStatus.REGISTERED)


class UnknownBuilding(RegistryError, LookupError):
    pass


@dataclass(frozen=True)
class Measurement:
    code: str
    areas: Areas


@dataclass(frozen=True)
class MeasurementError:
    code: str
    message: str


class MeasurementsRejected(RegistryError):
    def __init__(self, errors: list[MeasurementError]) -> None:
        super().__init__(f"{len(errors)} measurement(s) rejected; nothing was recorded")
        self.errors = errors


class CorrectionRequired(RegistryError):
    """Measured areas a contract may state already would change: a correction, with a reason."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(
            "measured areas of reserved, filed or registered units would change: "
            + ", ".join(codes)
            + "; record a correction with its reason"
        )
        self.codes = codes


@dataclass(frozen=True)
class CompletionRecord:
    id: int
    building_id: int
    completed_units: int  # units of the building marked completed
    changed: tuple[str, ...]  # units whose measured areas were set or changed


def area_problems(building: Decimal, inner: Decimal, shared: Decimal) -> list[str]:
    """Why these measured areas cannot be recorded (pure; empty if they can)."""
    values = {"building": building, "inner": inner, "shared": shared}
    problems = [
        f"{name} area {value} is out of range"
        for name, value in values.items()
        if not value.is_finite() or abs(value) >= AREA_LIMIT
    ]
    if problems:
        return problems
    problems = [
        f"{name} area {value} has more than 2 decimal places"
        for name, value in values.items()
        if value != value.quantize(Decimal("0.01"))
    ]
    if problems:
        return problems
    if building <= 0 or inner <= 0:
        problems.append("building and inner areas must be positive")
    if shared < 0:
        problems.append("shared area must not be negative")
    if abs(inner + shared - building) > Decimal("0.01"):
        problems.append(f"building area {building} is not inner {inner} + shared {shared}")
    return problems


def record_completion(
    conn: Connection,
    project_id: int,
    building_id: int,
    acceptance_record: str,
    survey_report: str,
    measurements: list[tuple[str, Decimal, Decimal, Decimal]],
    correction: str,
    actor: str,
) -> CompletionRecord:
    """Record a building's completion and its units' measured areas: all or nothing.

    Every listed unit must be of this building, listed once, with positive areas whose
    building area is inner + shared (±0.01). Measured areas that a contract may already
    state (the unit is reserved, filed or registered) change only by a correction with
    its reason. Every unit of the building is marked completed; each change is in the
    unit's history and, with the old and new values, in ``unit_area_changes``.
    """
    u = schema.units.c
    found = conn.execute(
        select(schema.buildings.c.id).where(
            schema.buildings.c.id == building_id, schema.buildings.c.project_id == project_id
        )
    ).first()
    if found is None:
        raise UnknownBuilding(f"no building {building_id} in project {project_id}")
    units = {
        r.code: r
        for r in conn.execute(
            select(
                u.id,
                u.code,
                u.status,
                u.version,
                u.completed,
                u.measured_building,
                u.measured_inner,
                u.measured_shared,
            )
            .where(u.building_id == building_id)
            .order_by(u.id)
            # Locked: a draft reserving a unit meanwhile waits instead of making the
            # authority's record fail as "changed" (PostgreSQL; SQLite writes one at a time).
            .with_for_update()
        )
    }
    errors: list[MeasurementError] = []
    seen: set[str] = set()
    accepted: list[Measurement] = []
    for code, building, inner, shared in measurements:
        if code in seen:
            errors.append(MeasurementError(code, "listed twice"))
            continue
        seen.add(code)
        if code not in units:
            errors.append(MeasurementError(code, "no such unit in this building"))
            continue
        problems = area_problems(building, inner, shared)
        errors += [MeasurementError(code, m) for m in problems]
        if not problems:
            accepted.append(Measurement(code, Areas(building, inner, shared)))
    if errors:
        raise MeasurementsRejected(errors)

    def old(code: str) -> Areas | None:
        r = units[code]
        if r.measured_building is None:
            return None
        return Areas(r.measured_building, r.measured_inner, r.measured_shared)

    changed = [m for m in accepted if old(m.code) != m.areas]
    corrected = [
        m.code
        for m in changed
        if old(m.code) is not None and UnitStatus(units[m.code].status) in _HELD
    ]
    if corrected and not correction.strip():
        raise CorrectionRequired(corrected)
    at = now()
    pk = conn.execute(
        insert(schema.building_completions).values(
            building_id=building_id,
            acceptance_record=acceptance_record,
            survey_report=survey_report,
            correction=correction.strip(),
            recorded_by=actor,
            at=at,
        )
    ).inserted_primary_key
    assert pk is not None
    completion_id = int(pk[0])
    by_code = {m.code: m for m in changed}
    basis = f"竣工验收备案 {acceptance_record}；实测报告 {survey_report}"
    if correction.strip():
        basis += f"；更正：{correction.strip()}"
    marked = 0
    for code, r in sorted(units.items()):
        m = by_code.get(code)
        if m is None and r.completed:
            continue
        values: dict[str, Any] = {"completed": True, "version": r.version + 1}
        if m is not None:
            values.update(
                measured_building=m.areas.building,
                measured_inner=m.areas.inner,
                measured_shared=m.areas.shared,
            )
        result = conn.execute(
            update(schema.units).where(u.id == r.id, u.version == r.version).values(**values)
        )
        if result.rowcount != 1:
            raise StaleUnit(f"unit {code} changed concurrently")
        marked += 0 if r.completed else 1
        if m is None:
            _event(conn, r.id, at, actor, "COMPLETE", basis, None, None, None)
            continue
        before = old(code)
        conn.execute(
            insert(schema.unit_area_changes).values(
                completion_id=completion_id,
                unit_id=r.id,
                old_building=None if before is None else before.building,
                old_inner=None if before is None else before.inner,
                old_shared=None if before is None else before.shared,
                new_building=m.areas.building,
                new_inner=m.areas.inner,
                new_shared=m.areas.shared,
            )
        )
        was = "无" if before is None else f"{before.building}/{before.inner}/{before.shared}"
        now_ = f"{m.areas.building}/{m.areas.inner}/{m.areas.shared}"
        reason = f"{basis}；实测面积（建筑/套内/分摊 m²）{was} → {now_}"
        _event(conn, r.id, at, actor, "MEASURE", reason, None, None, None)
    return CompletionRecord(completion_id, building_id, marked, tuple(m.code for m in changed))


def measurement_history(conn: Connection, code: str) -> list[dict[str, Any]]:
    """The unit's measured areas as each completion record set them, oldest first."""
    a, c = schema.unit_area_changes.c, schema.building_completions.c
    current = unit(conn, code)
    rows = conn.execute(
        select(
            c.id.label("completion"),
            c.at,
            c.recorded_by,
            c.acceptance_record,
            c.survey_report,
            c.correction,
            a.old_building,
            a.old_inner,
            a.old_shared,
            a.new_building,
            a.new_inner,
            a.new_shared,
        )
        .join(schema.building_completions, c.id == a.completion_id)
        .where(a.unit_id == current.id)
        .order_by(a.id)
    ).all()
    return [dict(r._mapping) for r in rows]


# -- corrections of a unit's 楼盘表 data ---------------------------------------------

# What a correction may change: the data a contract is drafted from, before any contract is.
CORRECTABLE = ("room", "use", "floor", "forecast_building", "forecast_inner", "forecast_shared")
# Statuses in which no contract states the unit's data yet (a resale reads the register).
_UNCONTRACTED = (UnitStatus.NOT_RELEASED, UnitStatus.AVAILABLE)


class UnitCorrectionRejected(RegistryError):
    """The correction is not valid; ``problems`` says why, field by field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnitUnderContract(RegistryError):
    """A contract may state the unit's data already: it is not corrected here."""


@dataclass(frozen=True)
class UnitCorrection:
    code: str
    changed: dict[str, tuple[str, str]]  # field: (old, new), as text


def correction_problems(changes: Mapping[str, str], reason: str) -> list[str]:
    """What is wrong with a correction's fields (pure): unknown fields, bad values, no reason."""
    problems = [f"{f} cannot be corrected" for f in changes if f not in CORRECTABLE]
    if not reason.strip():
        problems.append("a correction states its reason")
    if not changes:
        problems.append("nothing to correct")
    for f in ("room", "use"):
        if f in changes and not (0 < len(changes[f].strip()) <= 40):
            problems.append(f"{f} is 1 to 40 characters")
    if "floor" in changes:
        try:
            if not -10 <= int(changes["floor"]) <= 300:
                problems.append("floor is between -10 and 300")
        except ValueError:
            problems.append("floor is a whole number")
    return problems


def correct_unit(
    conn: Connection, code: str, changes: Mapping[str, str], reason: str, actor: str
) -> UnitCorrection:
    """Correct a unit's 楼盘表 data (all fields or none), on record in its history with the
    old and new values. Only while no contract states the data (not released or on sale);
    measured areas change through a completion record instead."""
    problems = correction_problems(changes, reason)
    if problems:
        raise UnitCorrectionRejected(problems)
    current = unit(conn, code)
    if current.status not in _UNCONTRACTED:
        raise UnitUnderContract(
            f"unit {code} is {current.status.value}: a contract may state its data already"
        )
    u = schema.units.c
    row = conn.execute(
        select(*(u[f] for f in CORRECTABLE)).where(u.id == current.id).with_for_update()
    ).one()
    old = dict(zip(CORRECTABLE, row, strict=True))
    new: dict[str, Any] = {}
    for f, raw in changes.items():
        new[f] = int(raw) if f == "floor" else _dec(raw) if f.startswith("forecast_") else raw
    areas = [
        new.get(f"forecast_{k}", old[f"forecast_{k}"]) for k in ("building", "inner", "shared")
    ]
    try:
        Areas(*(Decimal(str(a)) for a in areas))
    except (ValueError, InvalidOperation, ContractDataError) as exc:
        raise UnitCorrectionRejected([f"forecast areas: {exc}"]) from exc
    problems = area_problems(*(Decimal(str(a)) for a in areas))
    if problems:
        raise UnitCorrectionRejected([f"forecast areas: {p}" for p in problems])
    changed = {f: (str(old[f]), str(v)) for f, v in new.items() if str(old[f]) != str(v)}
    if changed:
        done = conn.execute(
            update(schema.units)
            .where(schema.units.c.id == current.id, schema.units.c.version == current.version)
            .values(**{f: new[f] for f in changed}, version=current.version + 1)
        ).rowcount
        if done != 1:
            raise StaleUnit(f"unit {code} changed concurrently")
        what = "; ".join(f"{f}: {a} → {b}" for f, (a, b) in changed.items())
        _event(conn, current.id, now(), actor, "CORRECT", f"{what} ({reason})", None, None, None)
    return UnitCorrection(code, changed)
