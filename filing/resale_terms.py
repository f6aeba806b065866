"""A resale contract's structured data as JSON, to keep with the draft and render it again."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from filing.terms import _plain
from signing.contract import DisputeResolution, Party, Payment, PaymentMethod
from signing.resale import Brokerage, House, ResaleContract, Supervision, TaxSplit


def resale_to_json(contract: ResaleContract) -> str:
    return json.dumps(_plain(contract), ensure_ascii=False, sort_keys=True)


def _payment(d: dict[str, Any]) -> Payment:
    return Payment(
        PaymentMethod[d["method"]],
        Decimal(d["down_payment"]),
        tuple((dt.date.fromisoformat(day), Decimal(a)) for day, a in d["instalments"]),
        d["loan_bank"],
    )


def resale_from_json(text: str) -> ResaleContract:
    d = json.loads(text)
    h, s, b = d["house"], d["supervision"], d["brokerage"]
    return ResaleContract(
        number=d["number"],
        sellers=tuple(Party(**p) for p in d["sellers"]),
        buyers=tuple(Party(**p) for p in d["buyers"]),
        brokerage=None if b is None else Brokerage(**{**b, "fee": Decimal(b["fee"])}),
        house=House(
            **{
                **h,
                "building_area": Decimal(h["building_area"]),
                "inner_area": None if h["inner_area"] is None else Decimal(h["inner_area"]),
                "registered_on": dt.date.fromisoformat(h["registered_on"]),
            }
        ),
        price=Decimal(d["price"]),
        payment=_payment(d["payment"]),
        supervision=Supervision(**{**s, "amount": Decimal(s["amount"])}),
        taxes=TaxSplit[d["taxes"]],
        delivery_date=dt.date.fromisoformat(d["delivery_date"]),
        transfer_deadline=dt.date.fromisoformat(d["transfer_deadline"]),
        late_payment_rate=Decimal(d["late_payment_rate"]),
        late_delivery_rate=Decimal(d["late_delivery_rate"]),
        dispute=DisputeResolution[d["dispute"]],
        dispute_body=d["dispute_body"],
        drafted_at=dt.datetime.fromisoformat(d["drafted_at"]),
        city=d["city"],
        verify_url=d["verify_url"],
        extra_terms=tuple(d["extra_terms"]),
    )
