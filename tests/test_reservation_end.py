"""When a draft's reservation ends, its signing ends: nothing is certified, recorded or
sealed after it, however the moment falls between a check and the write (red team,
2026-12-02)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from filing import schema
from filing.clock import FixedClock
from filing.service import ContractStateError, FilingService
from filing.status import UnitStatus
from keys.pki import new_key
from signing import remote
from tests.test_filing_service import (  # noqa: F401 (service: a fixture)
    BUYER_ID,
    CODES,
    DEVELOPER_ID,
    _contract,
    _identity,
    _unit_status,
    service,
)


def _ends_at(svc: FilingService, cid: str, at: dt.datetime) -> None:
    with svc.engine.begin() as conn:
        conn.execute(
            update(schema.contracts).where(schema.contracts.c.id == cid).values(expires_at=at)
        )


def test_a_last_signature_judged_in_time_is_not_filed_after_the_reservation_ended(
    service: FilingService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The judgement runs before the write transaction and may take a while: the reservation
    may run out meanwhile. Found: the transaction compared the reservation with what was
    read before, not with the clock, and sealed a draft after its end."""
    c = _contract()
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert service.seal_as_developer(cid, "developer") is None
    key = new_key()
    digest = service.start_remote_signing(cid, "buyer-1", _identity(c), key.public_key(), BUYER_ID)
    with service.engine.connect() as conn:
        ends = (
            conn.execute(schema.contracts.select().where(schema.contracts.c.id == cid))
            .one()
            ._mapping["expires_at"]
        )
    ends = ends if ends.tzinfo else ends.replace(tzinfo=dt.UTC)
    judged = FilingService._check_signed

    def slow(self: FilingService, *args: Any, **kw: Any) -> Any:
        checked = judged(self, *args, **kw)  # in time
        self.clock = FixedClock(ends + dt.timedelta(seconds=1))  # and then it was not
        return checked

    monkeypatch.setattr(FilingService, "_check_signed", slow)
    with pytest.raises(ContractStateError, match="reservation has expired"):
        service.finish_remote_signing(cid, "buyer-1", remote.device_sign(key, digest), BUYER_ID)
    assert _unit_status(service, CODES[0]) is UnitStatus.RESERVED
    with service.engine.connect() as conn:
        row = conn.execute(schema.contracts.select().where(schema.contracts.c.id == cid)).one()
    assert row._mapping["status"] == "DRAFT" and row._mapping["signed_fields"] == "seller"


def test_a_certificate_asked_for_as_the_reservation_ends_is_refused_not_a_crash(
    service: FilingService,  # noqa: F811
) -> None:
    """The service checks the reservation by its clock, the CA issues by the wall clock: a
    request between the two moments is the contract's state (a 409), not an error."""
    c = _contract()
    now = dt.datetime.now(dt.UTC)
    cid, _ = service.draft(c, DEVELOPER_ID, "developer")  # type: ignore[arg-type]
    assert service.seal_as_developer(cid, "developer") is None
    _ends_at(service, cid, now - dt.timedelta(minutes=10))
    service.clock = FixedClock(now - dt.timedelta(minutes=11))  # the check: still in time
    for ask in (service.signing_certificate, service.start_remote_signing):
        with pytest.raises(ContractStateError, match="reservation has expired"):
            ask(cid, "buyer-1", _identity(c), new_key().public_key(), BUYER_ID)
