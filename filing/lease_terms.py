"""A lease contract's structured data as JSON, to keep with the draft and render it again."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from filing.terms import _plain
from signing.contract import DisputeResolution, Party
from signing.lease import LeaseContract, LeasedHouse, PaymentCycle


def lease_to_json(contract: LeaseContract) -> str:
    return json.dumps(_plain(contract), ensure_ascii=False, sort_keys=True)


def lease_from_json(text: str) -> LeaseContract:
    d = json.loads(text)
    h = d["house"]
    return LeaseContract(
        number=d["number"],
        lessors=tuple(Party(**p) for p in d["lessors"]),
        lessees=tuple(Party(**p) for p in d["lessees"]),
        entrustment=d["entrustment"],
        house=LeasedHouse(
            **{
                **h,
                "building_area": Decimal(h["building_area"]),
                "leased_area": Decimal(h["leased_area"]),
            }
        ),
        start=dt.date.fromisoformat(d["start"]),
        end=dt.date.fromisoformat(d["end"]),
        rent=Decimal(d["rent"]),
        cycle=PaymentCycle[d["cycle"]],
        deposit=Decimal(d["deposit"]),
        purpose=d["purpose"],
        occupants=int(d["occupants"]),
        dispute=DisputeResolution[d["dispute"]],
        dispute_body=d["dispute_body"],
        drafted_at=dt.datetime.fromisoformat(d["drafted_at"]),
        city=d["city"],
        verify_url=d["verify_url"],
    )
