"""What each role may see of a filing and its decisions, and a court's evidence package.

Scopes: tax gets price, area and the parties; banks and the provident fund get a filing's
status for a loan and nothing that names a person; a court gets the whole evidence. The
API records every read in the access log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from filing import fund_service, holdings, kinds, maintenance_service, registry, schema, status
from filing.deployment import Deployment
from filing.policy import UnitPeople
from filing.status import FilingStatus
from ledger.status_store import StatusMapError
from signing.contract import Party
from signing.lease import LeaseContract
from signing.resale import ResaleContract

MAX_TAX_ROWS = 1000
# What a 购房资格 decision says to a developer: the verdict and why, not the family's
# records behind it (household, homes owned, months of payments), which are the buyer's.
DECISION_SUMMARY = ("eligible", "reasons", "rule_set")


def eligibility_decision(decision: dict[str, Any], sees_records: bool) -> dict[str, Any]:
    """A decision as a role may read it: whole for the buyer, the authority and a court;
    a summary for the developer, who could otherwise draft for any ID number to read
    what the departments hold about that person's family."""
    if sees_records:
        return decision
    return {k: decision[k] for k in DECISION_SUMMARY if k in decision}


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


def _filing_units(conn: Connection) -> Any:
    f, u, b, p = schema.filings, schema.units, schema.buildings, schema.projects
    return select(
        f.c.number,
        f.c.status,
        f.c.filed_at,
        f.c.contract_id,
        u.c.code,
        u.c.status.label("unit_status"),
        p.c.district,
        p.c.name.label("project"),
    ).select_from(
        f.join(u, u.c.id == f.c.unit_id)
        .join(b, b.c.id == u.c.building_id)
        .join(p, p.c.id == b.c.project_id)
    )


def _contract(conn: Connection, contract_id: str) -> kinds.AnyContract:
    c = schema.contracts.c
    row = conn.execute(select(c.kind, c.data).where(c.id == contract_id)).one()
    return kinds.load(row.kind, row.data)


def _area(contract: kinds.AnyContract) -> Any:
    """The building area the sale is priced on: a new home's contract areas, a resale's
    registered area; a lease's leased space."""
    if isinstance(contract, ResaleContract):
        return contract.house.building_area
    if isinstance(contract, LeaseContract):
        return contract.house.leased_area
    return (contract.unit.measured or contract.unit.forecast).building


def _amount(contract: kinds.AnyContract) -> Any:
    """The price of a sale; a lease's monthly rent."""
    return contract.rent if isinstance(contract, LeaseContract) else contract.price


def _takers(contract: kinds.AnyContract) -> tuple[Party, ...]:
    """Who takes the home: the buyers of a sale, the lessees of a lease."""
    role = kinds.PartyRole.LESSEE if isinstance(contract, LeaseContract) else kinds.PartyRole.BUYER
    return kinds.parties_of(contract, role)


def tax_view(
    conn: Connection, start: dt.date, end: dt.date, after: str = ""
) -> list[dict[str, Any]]:
    """Filed contracts from ``start`` to ``end`` (inclusive, UTC): price, area, parties."""
    f = schema.filings
    rows = conn.execute(
        _filing_units(conn)
        .where(
            f.c.filed_at >= dt.datetime.combine(start, dt.time(), dt.UTC),
            f.c.filed_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC),
            f.c.number > after,
        )
        .order_by(f.c.number)
        .limit(MAX_TAX_ROWS)
    ).all()
    out = []
    for r in rows:
        contract = _contract(conn, r.contract_id)
        sellers = kinds.parties_of(contract, kinds.PartyRole.SELLER) or kinds.parties_of(
            contract, kinds.PartyRole.LESSOR
        )
        out.append(
            {
                "filing": r.number,
                "status": r.status,
                "filed_at": _iso(r.filed_at),
                "unit": r.code,
                "district": r.district,
                "kind": kinds.of_contract(contract).kind.value,
                "price": str(_amount(contract)),
                "area_m2": str(_area(contract)),
                "seller": {"name": sellers[0].name, "id_number": sellers[0].id_number},
                "sellers": [{"name": p.name, "id_number": p.id_number} for p in sellers],
                "buyers": [
                    {"name": b.name, "id_type": b.id_type, "id_number": b.id_number}
                    for b in _takers(contract)
                ],
            }
        )
    return out


def loan_view(conn: Connection, number: str) -> dict[str, Any] | None:
    """A filing's status for a lender: in force or not, the unit, price and area; no names."""
    row = conn.execute(_filing_units(conn).where(schema.filings.c.number == number)).first()
    if row is None:
        return None
    contract = _contract(conn, row.contract_id)
    return {
        "filing": row.number,
        "in_force": row.status == FilingStatus.ACTIVE,
        "status": row.status,
        "filed_at": _iso(row.filed_at),
        "unit": row.code,
        "unit_status": row.unit_status,
        "district": row.district,
        "project": row.project,
        "kind": kinds.of_contract(contract).kind.value,
        "price": str(_amount(contract)),
        "area_m2": str(_area(contract)),
        "buyers": len(_takers(contract)),
    }


WITHHELD = "（不公开）"


def unit_history(
    conn: Connection, code: str, sight: UnitPeople, pseudonym: Callable[[str], str]
) -> list[dict[str, Any]]:
    """A unit's history as a caller may see it (``policy.unit_people``).

    People act on a unit under their ID numbers (the actor of a signature that files a
    contract is whoever signed last: a buyer, a resale's seller or its agent). Whoever is
    not to see a person sees ``buyer:<pseudonym>`` (an owner of record who is no buyer here,
    or a resale's agent: ``owner:``/``party:<pseudonym>``; the same for the same person,
    unlinkable to the number without the deployment's key), and no free text a party wrote
    (a cancellation's reason, or anything a party's act recorded). A unit's developer sees
    in clear only its own sales' events by its own buyers: not who resold, nor to whom.
    """
    events = registry.history(conn, code)
    if sight.everyone:
        return events
    unit_id = registry.unit(conn, code).id
    c, cb = schema.contracts, schema.contract_buyers
    people = set(
        conn.execute(
            select(cb.c.person).join(c, c.c.id == cb.c.contract_id).where(c.c.unit_id == unit_id)
        ).scalars()
    )
    own = (
        set(
            conn.execute(
                select(cb.c.person)
                .join(c, c.c.id == cb.c.contract_id)
                .where(c.c.unit_id == unit_id, c.c.developer_id == sight.drafter)
            ).scalars()
        )
        if sight.drafter is not None
        else set()
    )
    # Owners of record act under their ID numbers too (a resale's sellers).
    owners = set(
        conn.execute(
            select(schema.ownership_owners.c.person)
            .join(
                schema.ownerships,
                schema.ownerships.c.id == schema.ownership_owners.c.ownership_id,
            )
            .where(schema.ownerships.c.unit_id == unit_id)
        ).scalars()
    )
    # A resale's other people: its agent (and its sellers, as the contract names them).
    others = set()
    for kind, data in conn.execute(
        select(c.c.kind, c.c.data).where(
            c.c.unit_id == unit_id, c.c.kind == kinds.Kind.RESALE.value
        )
    ):
        contract = kinds.load(kind, data)
        for role in (kinds.PartyRole.SELLER, kinds.PartyRole.AGENT):
            others |= {holdings.person_key(p.id_number) for p in kinds.parties_of(contract, role)}
    shown = []
    for event in events:
        event = dict(event)
        # A resale's drafter acts as ``person:<ID number>`` (policy.drafter_key).
        person = holdings.person_key(str(event["actor"]).removeprefix("person:"))
        if person in own and event["event"] in _NEW_HOME_EVENTS:
            pass  # the developer's own sale, by its own buyer
        elif person in people or person in owners or person in others:
            label = "buyer" if person in people else "owner" if person in owners else "party"
            event["actor"] = f"{label}:{pseudonym(str(event['actor']))}"
            event["reason"] = WITHHELD
        elif event["event"] in _PARTIES_WORDS and not (
            sight.drafter is not None and event["event"] in _NEW_HOME_EVENTS
        ):
            event["reason"] = WITHHELD  # the parties' own words
        shown.append(event)
    return shown


# A new home's sale: the events its developer's own contracts make.
_NEW_HOME_EVENTS = frozenset(e.value for e in dataclasses.astuple(status.NEW_HOME))
# Cancellations carry the reason the parties (or a judgment) gave.
_PARTIES_WORDS = frozenset({status.NEW_HOME.cancel.value, status.RESALE.cancel.value})


def history(conn: Connection, number: str) -> list[dict[str, Any]]:
    e = schema.filing_events
    rows = conn.execute(
        select(e.c.event, e.c.log_index, e.c.at, e.c.actor, e.c.reason)
        .where(e.c.filing_number == number)
        .order_by(e.c.id)
    ).all()
    return [
        {"event": r.event, "log_index": r.log_index, "at": _iso(r.at), "actor": r.actor}
        | {"reason": r.reason}
        for r in rows
    ]


README = """证据包 Evidence package — {number}

contract.pdf             the filed, sealed contract
contract.pdf.tlog-proof  its receipt in the filing log
trust-bundle.json        the platform's trust bundle (compare it with the published one)
history.json             the filing's events (filed, changed, cancelled), for reading
changes/                 sealed change agreements (变更) and their receipts, if any
funds/                   the banks' signed fund statements (资金监管, 维修资金存入) and
                         their receipts, if any: the verifier proves each one
status.tlog-status       the filing's latest event as of the receipts' checkpoint (tree size
                         {size}), proven against the status map that checkpoint commits to:
                         in force, changed or cancelled then (not after)

Check it offline:  wangqian-verify {name} [--trust the-published-trust-bundle.json]
"""


def evidence_package(deployment: Deployment, conn: Connection, number: str) -> bytes | None:
    """The ZIP a court gets; None for an unknown filing (or one not yet in a checkpoint).

    Its size does not grow with the log: the filing's status is a proof of O(log n) hashes
    against the same checkpoint as its receipt, not a copy of the log.
    """
    f = conn.execute(select(schema.filings).where(schema.filings.c.number == number)).first()
    checkpoint = deployment.latest_witnessed_checkpoint()
    if f is None or checkpoint is None or checkpoint.size <= f.log_index:
        return None
    log = deployment.log
    try:
        status = deployment.status_map.status(number, checkpoint)
    except StatusMapError:
        return None  # a checkpoint from before status maps: the sequencer's next one has it
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "README.txt", README.format(number=number, size=checkpoint.size, name=f"{number}.zip")
        )
        z.writestr("contract.pdf", f.sealed_pdf)
        z.writestr("contract.pdf.tlog-proof", log.receipt(f.log_index, checkpoint).to_text())
        z.writestr("trust-bundle.json", deployment.trust_bundle_json())
        z.writestr("history.json", json.dumps(history(conn, number), ensure_ascii=False, indent=2))
        changes = conn.execute(
            select(schema.filing_changes).where(schema.filing_changes.c.filing_number == number)
        ).all()
        for ch in changes:
            if ch.log_index < checkpoint.size:
                z.writestr(f"changes/{ch.log_index}.pdf", ch.sealed_pdf)
                z.writestr(
                    f"changes/{ch.log_index}.pdf.tlog-proof",
                    log.receipt(ch.log_index, checkpoint).to_text(),
                )
        for name, member in fund_service.evidence_members(deployment, conn, number, checkpoint):
            z.writestr(name, member)
        for name, member in maintenance_service.evidence_members(
            deployment, conn, number, checkpoint
        ):
            z.writestr(name, member)
        z.writestr("status.tlog-status", status.to_text())
    return buffer.getvalue()
