"""The demo's lease (租赁备案): an existing home of two co-owners leased through the API.

Each run adds one existing home to the old community, records its owners from the
register, and the owners (both) and the lessee carry its lease through the one pipeline:
drafted by an owner, signed by every party on their phones, filed as ``kind=lease`` with
its sealed 租赁登记备案证明. The unit stays REGISTERED: a lease changes no ownership.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from api.demo_resale import RESALE_BUYER, SELLERS, Client, _add_existing_home, _sign_on_phone

LESSEE = RESALE_BUYER  # a person the demo's department extracts know


def run_lease(
    authority: Client,
    client_for: Callable[[str], Client],
    stamp: str,
    unit_exists: Callable[[str], bool],
) -> dict[str, Any]:
    """Carry one lease through; returns the filing's answer, the unit and its certificate."""
    code = _add_existing_home(authority, unit_exists)
    authority.post(
        f"/v1/units/{code}/ownership",
        201,
        json={
            "certificate": f"湘（2016）长沙市不动产权第 {code[-6:]} 号",
            "owners": [{"name": n, "id_number": i, "share": "1/2"} for n, i in SELLERS],
            "registered_on": "2016-05-20",
        },
    )
    today = dt.date.today()
    draft = client_for(SELLERS[0][1]).post(
        "/v1/lease-contracts",
        201,
        json={
            "unit_code": code,
            "number": f"ZL-{stamp}",
            "lessors": [{"name": n, "id_number": i} for n, i in SELLERS],
            "lessees": [{"name": LESSEE[0], "id_number": LESSEE[1]}],
            "start": today.isoformat(),
            "end": (today + dt.timedelta(days=364)).isoformat(),
            "rent": "3200.00",
            "cycle": "QUARTERLY",
            "deposit": "3200.00",
            "occupants": 2,
            "dispute_body": "长沙市岳麓区人民法院",
        },
    )
    fields = [("lessor-1", SELLERS[0]), ("lessor-2", SELLERS[1]), ("lessee-1", LESSEE)]
    filed: dict[str, Any] = {}
    for field, person in fields:
        last = field == fields[-1][0]
        filed = _sign_on_phone(client_for(person[1]), draft["id"], field, person, last)
    if not filed.get("filed"):
        raise RuntimeError(f"the last signature did not file the lease: {filed}")
    number = str(filed["filing"])
    certificate = authority.get(f"/v1/filings/{number}/lease-certificate").content
    leases = authority.get(f"/v1/units/{code}/leases").json()
    return {**filed, "unit": code, "certificate": bytes(certificate), "leases": leases}
