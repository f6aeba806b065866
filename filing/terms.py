"""A contract's structured data as JSON, to keep with the draft and render it again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from decimal import Decimal
from typing import Any

from signing.contract import (
    Areas,
    Contract,
    DisputeResolution,
    Escrow,
    Party,
    Payment,
    PaymentMethod,
    Permit,
    Template,
    Unit,
)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def contract_to_json(contract: Contract) -> str:
    return json.dumps(_plain(contract), ensure_ascii=False, sort_keys=True)


def _areas(d: dict[str, Any] | None) -> Areas | None:
    return None if d is None else Areas(*(Decimal(d[k]) for k in ("building", "inner", "shared")))


def _party(d: dict[str, Any]) -> Party:
    return Party(**d)


def contract_from_json(text: str) -> Contract:
    d = json.loads(text)
    forecast = _areas(d["unit"]["forecast"])
    assert forecast is not None
    unit = Unit(**{**d["unit"], "forecast": forecast, "measured": _areas(d["unit"]["measured"])})
    pay = d["payment"]
    return Contract(
        number=d["number"],
        template=Template[d["template"]],
        seller=_party(d["seller"]),
        buyers=tuple(_party(b) for b in d["buyers"]),
        unit=unit,
        permit=Permit(**d["permit"]),
        price=Decimal(d["price"]),
        payment=Payment(
            PaymentMethod[pay["method"]],
            Decimal(pay["down_payment"]),
            tuple((dt.date.fromisoformat(day), Decimal(a)) for day, a in pay["instalments"]),
            pay["loan_bank"],
        ),
        escrow=Escrow(**d["escrow"]),
        delivery_date=dt.date.fromisoformat(d["delivery_date"]),
        late_payment_rate=Decimal(d["late_payment_rate"]),
        late_delivery_rate=Decimal(d["late_delivery_rate"]),
        dispute=DisputeResolution[d["dispute"]],
        dispute_body=d["dispute_body"],
        city=d["city"],
        verify_url=d["verify_url"],
        extra_terms=tuple(d["extra_terms"]),
    )
