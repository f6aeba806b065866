"""Examples for every operation of the OpenAPI description, kept in one place.

Request models carry their own examples (pydantic ``examples``); this adds an example
answer for each operation's success response, and a request example where the
body is not a model (CSV, PDF). ``tests/test_api_and_cli.py`` checks that every
operation has one.
"""

from __future__ import annotations

from typing import Any

_CHECKPOINT = (
    "changsha.wangqian.example/filings\n3\n1GWVuxspgCQ3bURAbWxmfQUiXZ8f/QAj+pOBr+GErHA=\n\n"
    "— changsha.wangqian.example/filings Cr6QafqaTHYttulGZ7RAd810RvQp283rx3B06SkVIp0bjhLjGC/"
    "+m0oqaySKQ+hB2KxqBOFoY/KBydrELjXcicwjFwU=\n"
)
_RECEIPT = (
    "c2sp.org/tlog-proof@v1\nextra eyJhdCI6IjIwMjYtMTEtMjdUMTU6MzQ6MzdaIiwi…\nindex 0\n"
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    "Hq3gVbTkcwCoGV6bXfNHVSxHhq+8Uoy2mqNWG+iBVzQ=\n\n" + _CHECKPOINT
)
_SHA = "97e2a3ada4281d4fe536ff8c6923d140d8219ccd40ca08767bc621181a94e9eb"
_CODE = "430104001001GB00001F00010101"
_FILING = "CS-2026-000001"
_CONTRACT_ID = "0b7d6c1e-5a8f-4a51-9a7e-2c7f3f1d9e10"
_PDF = "%PDF-1.7 … (the PDF's bytes)"
_PEM = "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n"
_REGISTERED = {
    "code": _CODE,
    "status": "REGISTERED",
    "certificate": "湘（2027）长沙市不动产权第 0012345 号",
    "basis": "filing",
    "filing": _FILING,
    "co_ownership": "SOLE",
    "owners": 1,
    "registered_on": "2027-09-01",
    "acquired_on": "2026-11-27",
}
_MORTGAGE = {
    "mortgagee": "示范银行长沙分行",
    "reference": "湘（2027）长沙市不动产证明第 0100001 号",
    "registered_on": "2027-09-15",
    "consent": "同意转让 DY-2029-0007",
}
_FUND_EVENT = {
    "log_index": 7,
    "kind": "deposit",
    "label": "监管资金存入",
    "amount_fen": 35000000,
    "amount_yuan": "350000.00",
    "bank": "示范银行长沙分行",
    "bank_reference": "JG-2026-000123",
    "booked_at": "2026-11-28T02:00:00+00:00",
    "recorded_at": "2026-11-28T02:00:03+00:00",
    "statement_sha256": _SHA,
    "receipt": _RECEIPT,
}
_UNIT = {
    "code": _CODE,
    "floor": 1,
    "room": "101",
    "use": "住宅",
    "status": "AVAILABLE",
    "flags": "",
    "forecast_building": "118.56",
    "building": "1 栋",
    "project": "湘江示范花园",
    "district": "岳麓区",
}
_INVITATION = {
    "field": "buyer-1",
    "expires_at": "2026-12-04T08:00:00+00:00",
    "sent": True,
}
_FILED = {
    "filed": True,
    "filing": _FILING,
    "log_index": 0,
    "document_sha256": _SHA,
    "receipt": _RECEIPT,
}

# "METHOD path" -> the success answer; text for text/plain and binary media types.
_LOAD = {
    "id": 7,
    "kind": "households",
    "loaded_by": "长沙市住建局",
    "loaded_at": "2026-11-27T09:00:00+00:00",
    "rows": 1,
    "sha256": "5f1d…",
}
RESPONSES: dict[str, Any] = {
    "GET /log/checkpoint": _CHECKPOINT,
    "GET /log/vkey": "changsha.wangqian.example/filings+0abe9069+AWIdiC5GYkXUWjaE4qWJnYjR3NskTi"
    "mjxtxxDmm5e4Lh\n",
    "GET /log/tile/{path}": "(256 × 32-byte hashes, or for entries/: uint16 length ‖ entry …)",
    "GET /log/proof/inclusion": {
        "index": 0,
        "size": 3,
        "leaf_hash": "lC6yRpu5dbtS8j4pDmpVSGm3vQ2Wq7VnW+bsLpd7R2E=",
        "proof": ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
    },
    "GET /log/proof/consistency": {
        "old_size": 1,
        "new_size": 3,
        "proof": ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
    },
    "GET /log/later-checkpoint": "old 1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"
    + _CHECKPOINT,
    "GET /log/receipt/{index}": _RECEIPT,
    "GET /log/status/{filing}": "wangqian.cn/tlog-status@v1\nfiling CS-2026-000001\n"
    "entry 0 eyJhdCI6IjIwMjYtMTEtMjdUMTU6MzQ6MzdaIiwi…\n"
    "log Hq3gVbTkcwCoGV6bXfNHVSxHhq+8Uoy2mqNWG+iBVzQ=\n"
    "map C4CvtPoxPRcayJmoTw7+kQdnyrxeBIU/78c+gnaydzY=\n\n"
    "changsha.wangqian.example/filings\n3\n1GWVuxspgCQ3bURAbWxmfQUiXZ8f/QAj+pOBr+GErHA=\n"
    "wangqian.cn/status-map Xl9q7HVH2R8RpWr6irJ06uDPOPATMYHdcBDjf+EdD1k=\n\n— …\n",
    "POST /tsa": "(a DER TimeStampResp, RFC 3161)",
    "POST /ocsp": "(a DER OCSPResponse, RFC 6960)",
    "GET /ocsp/{encoded}": "(a DER OCSPResponse, RFC 6960)",
    "GET /crl/{slug}.crl": "(a DER CertificateList, RFC 5280)",
    "GET /pki/{slug}.crt": _PEM,
    "POST /v1/registry/import": {"imported": 120},
    "POST /v1/registry/permits": {"id": 1, "number": "长住建预许字（2026）第 0088 号"},
    "POST /v1/projects/{project}/buildings/{building}/completion": {
        "completion": 1,
        "project": 1,
        "building": 2,
        "completed_units": 60,
        "measured": [_CODE],
    },
    "GET /v1/units/{code}/measurements": [
        {
            "completion": 1,
            "at": "2027-09-01T02:00:00+00:00",
            "recorded_by": "长沙市住建局",
            "acceptance_record": "长建竣备字（2027）第 0123 号",
            "survey_report": "长测（2027）第 0456 号",
            "correction": "",
            "old_building": None,
            "old_inner": None,
            "old_shared": None,
            "new_building": "119.02",
            "new_inner": "96.77",
            "new_shared": "22.25",
        }
    ],
    "POST /v1/departments/{kind}": {"loaded": 1, "load": _LOAD},
    "GET /v1/departments/{kind}/loads": [_LOAD],
    "GET /v1/units": [_UNIT],
    "GET /v1/units/{code}": {
        "unit": {
            **_UNIT,
            "status": "FILED",
            "forecast_inner": "96.30",
            "forecast_shared": "22.26",
            "measured_building": None,
            "completed": False,
            "project_id": 1,
            "building_id": 2,
            "developer": "湘江示范置业有限公司",
            "developer_id": "91430100MA4L000000",
            "permit_number": "长住建预许字（2026）第 0088 号",
        },
        "history": [
            {
                "at": "2026-11-27 15:34:37.204532",
                "actor": "430102199001011234",
                "event": "FILE",
                "reason": f"filed as {_FILING}",
                "from_status": "RESERVED",
                "to_status": "FILED",
                "flags": None,
            }
        ],
    },
    "POST /v1/units/{code}/release": {"code": _CODE, "status": "AVAILABLE"},
    "POST /v1/units/{code}/registration": {**_REGISTERED, "log_index": 1},
    "POST /v1/units/{code}/ownership": {**_REGISTERED, "basis": "import", "filing": None},
    "GET /v1/units/{code}/ownership": {
        **_REGISTERED,
        "owners": [{"owner": "owner:3f9c2a71d04b8e65", "share": None}],
        "mortgages": [_MORTGAGE],
    },
    "POST /v1/units/{code}/mortgages": {"code": _CODE, **_MORTGAGE, "consent": None},
    "POST /v1/units/{code}/mortgages/consent": {"code": _CODE, **_MORTGAGE},
    "POST /v1/units/{code}/mortgages/discharge": {"code": _CODE, **_MORTGAGE},
    "POST /v1/units/{code}/flags/{flag}": {"code": _CODE, "flags": ["SEIZED"]},
    "POST /v1/contracts": {
        "id": _CONTRACT_ID,
        "number": "HT-2026-000001",
        "kind": "new-presale",
        "draft_sha256": _SHA,
        "invitations": [_INVITATION],
    },
    "POST /v1/resale-contracts": {
        "id": _CONTRACT_ID,
        "number": "ESF-2026-000001",
        "kind": "resale",
        "draft_sha256": _SHA,
    },
    "POST /v1/lease-contracts": {
        "id": _CONTRACT_ID,
        "number": "ZL-2026-000001",
        "kind": "lease",
        "draft_sha256": _SHA,
    },
    "POST /v1/units/{code}/lease-entrustments": {
        "unit": "430104001001GB00001F00010301",
        "reference": "长住租委（2026）第 0001 号",
        "enterprise": "91430100MA4LEASE01",
        "valid_from": "2026-11-01",
        "valid_until": "2029-10-31",
    },
    "POST /v1/units/{code}/lease-entrustment-ends": {
        "unit": "430104001001GB00001F00010301",
        "reference": "长住租委（2026）第 0001 号",
        "enterprise": "91430100MA4LEASE01",
        "valid_from": "2026-11-01",
        "valid_until": "2029-10-31",
        "ended_on": "2027-03-31",
    },
    "GET /v1/units/{code}/lease-entrustments": {
        "unit": "430104001001GB00001F00010301",
        "entrustments": [
            {
                "reference": "长住租委（2026）第 0001 号",
                "enterprise": "91430100MA4LEASE01",
                "valid_from": "2026-11-01",
                "valid_until": "2029-10-31",
                "ended_on": "2027-03-31",
            }
        ],
    },
    "GET /v1/units/{code}/leases": {
        "unit": "430104001001GB00001F00010301",
        "leased": True,
        "leases": [
            {
                "filing": "CS-2026-000002",
                "space": None,
                "start": "2026-12-01",
                "end": "2027-11-30",
                "occupants": 2,
                "status": "LEASED",
                "ended_on": None,
                "end_reason": None,
            }
        ],
    },
    "POST /v1/leases/expiry": {"expired": 1, "log_indexes": [17]},
    "POST /v1/filings/{number}/renewal-agreements": {
        "id": _CONTRACT_ID,
        "number": "CS-2026-000002-BG1",
        "kind": "renewal",
        "filing": "CS-2026-000002",
        "status": "DRAFT",
        "required": ["lessor-1", "lessor-2", "lessee-1", "filing-seal"],
        "draft_sha256": _SHA,
    },
    "GET /v1/contracts/{contract_id}": {
        "id": _CONTRACT_ID,
        "number": "HT-2026-000001",
        "kind": "new-presale",
        "status": "FILED",
        "unit": _CODE,
        "unit_status": "FILED",
        "created_at": "2026-11-27T15:34:30+00:00",
        "draft_sha256": _SHA,
        "required": ["seller", "buyer-1", "filing-seal"],
        "signed": ["seller", "buyer-1"],
        "expires_at": "2026-12-04T15:34:30+00:00",
        "filing": {"number": _FILING, "status": "ACTIVE", "filed_at": "2026-11-27T15:34:37+00:00"},
        "eligibility": [{"rule_set": "changsha-2017", "eligible": True}],
    },
    "GET /v1/contracts/{contract_id}/document": _PDF,
    "POST /v1/contracts/{contract_id}/seal": {"filed": False},
    "POST /v1/contracts/{contract_id}/signatures": {"filed": False},
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/start": {
        "digest_to_sign": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
    },
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/finish": _FILED,
    "POST /v1/contracts/{contract_id}/invitations/{field}": _INVITATION,
    "GET /v1/invitations/{contract_id}/{field}": {
        "contract_id": _CONTRACT_ID,
        "number": "HT-2026-000001",
        "kind": "new-presale",
        "unit": _CODE,
        "field": "buyer-1",
        "role": "买受人",
        "name": "王小明",
        "pages": 9,
        "status": "DRAFT",
        "signed": ["seller"],
        "next_field": "buyer-1",
        "expires_at": "2026-12-04T08:00:00+00:00",
        "identity_checked": False,
        "attempts_left": 5,
    },
    "POST /v1/invitations/{contract_id}/{field}/identity": {"identity_checked": True},
    "POST /v1/invitations/{contract_id}/{field}/start": {
        "signed_attributes": "MYGTMBgGCSqGSIb3DQEJAzELBgkqhkiG9w0BBwE=",
        "digest_to_sign": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
        "algorithm": "ECDSA-P256-SHA256",
    },
    "POST /v1/invitations/{contract_id}/{field}/finish": _FILED,
    "POST /v1/contracts/{contract_id}/withdraw": {"id": _CONTRACT_ID, "status": "WITHDRAWN"},
    "POST /v1/filings": _FILED,
    "GET /v1/filings": [
        {
            "filing": _FILING,
            "kind": "filed",
            "status": "ACTIVE",
            "log_index": 0,
            "filed_at": "2026-11-27T15:34:37+00:00",
        }
    ],
    "GET /v1/filings/{number}": {
        "filing": _FILING,
        "kind": "new-presale",
        "status": "ACTIVE",
        "document_sha256": _SHA,
        "log_index": 0,
        "filed_at": "2026-11-27T15:34:37+00:00",
        "contract_id": _CONTRACT_ID,
    },
    "GET /v1/filings/{number}/document": _PDF,
    "GET /v1/filings/{number}/lease-certificate": _PDF,
    "GET /v1/filings/{number}/receipt": _RECEIPT,
    "POST /v1/filings/{number}/cancellation": {
        "filing": _FILING,
        "status": "CANCELLED",
        "basis": "judgment",
        "log_index": 2,
        "document_sha256": _SHA,
        "receipt": _RECEIPT,
    },
    "POST /v1/filings/{number}/cancellation-agreements": {
        "id": _CONTRACT_ID,
        "number": f"{_FILING}-JC1",
        "kind": "cancellation",
        "filing": _FILING,
        "status": "DRAFT",
        "required": ["seller", "buyer-1", "filing-seal"],
        "draft_sha256": _SHA,
    },
    "POST /v1/filings/{number}/change-agreements": {
        "id": _CONTRACT_ID,
        "number": f"{_FILING}-BG1",
        "kind": "change",
        "filing": _FILING,
        "status": "DRAFT",
        "required": ["seller", "buyer-1", "filing-seal"],
        "draft_sha256": _SHA,
    },
    "POST /v1/contracts/{contract_id}/parties/{field}/certificate": (
        "-----BEGIN CERTIFICATE-----\n(the party's certificate, valid until the draft's "
        "reservation ends, naming "
        "'sign HT-2026-000001 buyer-1')\n-----END CERTIFICATE-----\n"
        "-----BEGIN CERTIFICATE-----\n(the issuing CA)\n-----END CERTIFICATE-----\n"
    ),
    "GET /v1/filings/{number}/changes": [
        {"log_index": 5, "document_sha256": _SHA, "at": "2026-12-01T09:00:00+00:00"}
    ],
    "GET /v1/filings/{number}/changes/{index}/document": _PDF,
    "GET /v1/stats/filings": [
        {
            "period": "2026-11",
            "key": "岳麓区",
            "filings": 2,
            "area_m2": "220.00",
            "value": "3180000.00",
            "avg_price_m2": "14454.55",
            "cancellations": 0,
            "cancelled_area_m2": "0.00",
            "cancelled_value": "0.00",
        }
    ],
    "GET /v1/stats/stock": [
        {
            "key": "岳麓区",
            "not_released": 0,
            "available": 118,
            "reserved": 1,
            "unsold_area_m2": "14108.64",
        }
    ],
    "GET /v1/tax/filings": [
        {
            "filing": _FILING,
            "status": "ACTIVE",
            "filed_at": "2026-11-27T15:34:37+00:00",
            "unit": _CODE,
            "district": "岳麓区",
            "price": "1422720.00",
            "area_m2": "118.56",
            "seller": {"name": "湘江示范置业有限公司", "id_number": "91430100MA4L000000"},
            "buyers": [{"name": "王小明", "id_type": "居民身份证", "id_number": "4301…1234"}],
        }
    ],
    "GET /v1/loans/filings/{number}": {
        "filing": _FILING,
        "in_force": True,
        "status": "ACTIVE",
        "filed_at": "2026-11-27T15:34:37+00:00",
        "unit": _CODE,
        "unit_status": "FILED",
        "district": "岳麓区",
        "project": "湘江示范花园",
        "price": "1422720.00",
        "area_m2": "118.56",
        "buyers": 1,
    },
    "GET /v1/court/filings/{number}/evidence": "(a ZIP: contract.pdf, contract.pdf.tlog-proof, "
    "trust-bundle.json, history.json, changes/, log/)",
    "POST /v1/webhooks": {
        "id": 1,
        "url": "https://tax.example/wangqian",
        "secret": "0n3-t1m3-s3cr3t…",
        "from_event": 42,
    },
    "GET /v1/webhooks": [{"id": 1, "url": "https://tax.example/wangqian", "delivered_up_to": 57}],
    "GET /v1/webhooks/{sub_id}/dead-letters": [
        {
            "event_id": 58,
            "attempts": 8,
            "last_error": "HTTP 503",
            "at": "2026-11-27T18:02:11+00:00",
        }
    ],
    "POST /v1/webhooks/{sub_id}/dead-letters/{event_id}/redeliver": {
        "id": 1,
        "event_id": 58,
        "status": "REDELIVER",
    },
    "GET /v1/stats/charts/{chart}.svg": '<svg xmlns="http://www.w3.org/2000/svg" …>…</svg>',
    "GET /dashboard": "<!DOCTYPE html>… (the dashboard page)",
    "GET /verify": "<!DOCTYPE html>… (the verification page)",
    "GET /progress": "<!DOCTYPE html>… (the progress page)",
    "GET /sign": "<!DOCTYPE html>… (the phone signing page)",
    "GET /v1/invitations/{contract_id}/{field}/pages/{index}": "(a PNG image, 900 px wide)",
    "POST /v1/verification": {
        "verdict": "PASSED",
        "exit_code": 0,
        "receipt_found": True,
        "report": {"schema": "wangqian-verify-report/v1", "verdict": "PASSED"},
        "html": "<!DOCTYPE html>…",
    },
    "POST /v1/banks/certificate": _PEM + _PEM,
    "GET /v1/stats/funds": [
        {
            "key": "",
            "accounts": 12,
            "deposited": "4200000.00",
            "released": "1050000.00",
            "refunded": "350000.00",
            "held": "2800000.00",
        }
    ],
    "POST /v1/filings/{number}/maintenance/deposits": {
        "filing": _FILING,
        "unit": _CODE,
        "log_index": 8,
        "kind": "deposit",
        "amount_fen": 948480,
        "amount_yuan": "9484.80",
        "bank": "示范银行",
        "reference": "WX-DEP-2026-000123",
        "deposited_fen": 948480,
        "due_fen": 948480,
        "settled": True,
        "receipt": _RECEIPT,
    },
    "POST /v1/filings/{number}/maintenance/refunds": {
        "filing": _FILING,
        "unit": _CODE,
        "log_index": 14,
        "kind": "refund",
        "amount_fen": 948480,
        "amount_yuan": "9484.80",
        "bank": "示范银行",
        "reference": "WX-REF-2026-000007",
        "deposited_fen": 948480,
        "due_fen": 948480,
        "receipt": _RECEIPT,
    },
    "POST /v1/maintenance/uses": {
        "number": "WX-2030-0001",
        "record_sha256": _SHA,
        "debits": [
            {"unit": _CODE, "amount_fen": 120000, "amount_yuan": "1200.00", "log_index": 21}
        ],
    },
    "GET /v1/units/{code}/maintenance": {
        "unit": _CODE,
        "balance_fen": 828480,
        "balance_yuan": "8284.80",
        "deposited_fen": 948480,
        "used_fen": 120000,
        "refunded_fen": 0,
        "held_fen": 0,
        "dues": [
            {
                "filing": _FILING,
                "due_fen": 948480,
                "due_yuan": "9484.80",
                "deposited_fen": 948480,
                "refunded_fen": 0,
                "rule_version": "cs-2026.1",
                "basis": "高层 118.56 m² × 80.00 元/m²",
                "bank": "示范银行",
            }
        ],
        "events": [
            {
                "log_index": 8,
                "kind": "deposit",
                "label": "维修资金存入",
                "filing": _FILING,
                "amount_fen": 948480,
                "amount_yuan": "9484.80",
                "by": "示范银行",
                "reference": "WX-DEP-2026-000123",
                "document_sha256": _SHA,
                "recorded_at": "2026-11-28T02:00:03+00:00",
            }
        ],
    },
    "GET /v1/stats/maintenance": {
        "due_fen": 2845440,
        "filings_with_due": 3,
        "deposits": 3,
        "deposited_fen": 2296960,
        "uses": 1,
        "debits": 2,
        "used_fen": 240000,
        "refunds": 1,
        "refunded_fen": 400000,
        "balance_fen": 1656960,
        "balance_yuan": "16569.60",
        "units_with_account": 2,
    },
    "POST /v1/units/{code}/corrections": {
        "code": _CODE,
        "changed": {"room": {"old": "101", "new": "101A"}},
    },
    "POST /v1/filings/{number}/funds/deposits": {"filing": _FILING, **_FUND_EVENT},
    "POST /v1/filings/{number}/funds/releases": {
        "filing": _FILING,
        **_FUND_EVENT,
        "log_index": 9,
        "kind": "release",
        "label": "监管资金拨付",
    },
    "POST /v1/filings/{number}/funds/refunds": {
        "filing": _FILING,
        **_FUND_EVENT,
        "log_index": 9,
        "kind": "refund",
        "label": "监管资金退还",
    },
    "GET /v1/filings/{number}/funds": {
        "filing": _FILING,
        "filing_log_index": 0,
        "account": "43050178000000000001",
        "bank": "示范银行长沙分行",
        "deposited_fen": 35000000,
        "balance_fen": 35000000,
        "balance_yuan": "350000.00",
        "settled": None,
        "events": [{k: v for k, v in _FUND_EVENT.items() if k != "receipt"}],
    },
    "GET /v1/filings/{number}/funds/{index}/statement": {
        "log_index": 7,
        "statement": "eyJhY2NvdW50IjoiNDMwNTAxNzgwMDAwMDAwMDAwMDEiLCJhbW91bnRfZmVuIjoz…",
        "signature": "MEUCIQD…",
        "certificate": _PEM,
        "receipt": _RECEIPT,
    },
}

_CURSOR = "eyJmIjoiM2I1YzE4ZGQ0ZTBhOWMxMiIsImsiOiIwYjdkNmMxZS…"
# Lists and events (api/list_routes.py); GET /v1/filings answers a page by default, so its
# example replaces the SHA-256 look-up's above.
RESPONSES.update(
    {
        "GET /v1/contracts": {
            "items": [
                {
                    "id": _CONTRACT_ID,
                    "number": "HT-2026-000001",
                    "kind": "new-presale",
                    "status": "DRAFT",
                    "developer_id": "91430100MA4L000000",
                    "unit": _CODE,
                    "project": 1,
                    "created_at": "2026-11-27T07:30:00Z",
                    "expires_at": "2026-11-30T07:30:00Z",
                    "signed": ["seller"],
                    "required": ["seller", "buyer-1"],
                    "filing": None,
                }
            ],
            "next": _CURSOR,
        },
        "GET /v1/filings": {
            "items": [
                {
                    "number": _FILING,
                    "kind": "new-presale",
                    "status": "ACTIVE",
                    "contract_id": _CONTRACT_ID,
                    "contract_number": "HT-2026-000001",
                    "developer_id": "91430100MA4L000000",
                    "unit": _CODE,
                    "project": 1,
                    "document_sha256": _SHA,
                    "log_index": 0,
                    "filed_at": "2026-11-27T15:34:37Z",
                }
            ],
            "next": None,
        },
        "GET /v1/events": {
            "events": [
                {
                    "id": 16,
                    "event": "contract-signed",
                    "filing": None,
                    "log_index": None,
                    "at": "2026-11-27T15:30:02Z",
                    "unit": _CODE,
                    "document_sha256": _SHA,
                    "ref": None,
                    "kind": "new-presale",
                    "contract": _CONTRACT_ID,
                    "field": "seller",
                },
                {
                    "id": 17,
                    "event": "filed",
                    "filing": _FILING,
                    "log_index": 16,
                    "at": "2026-11-27T15:34:37Z",
                    "unit": _CODE,
                    "document_sha256": _SHA,
                    "ref": None,
                    "kind": "new-presale",
                    "contract": _CONTRACT_ID,
                    "field": None,
                },
            ],
            "next": 17,
        },
    }
)

# Bodies that are not pydantic models.
REQUESTS: dict[str, tuple[str, Any]] = {
    "POST /v1/registry/import": (
        "text/csv",
        "project,district,address,developer,developer_id,building,code,floor,room,use,"
        "forecast_building,forecast_inner,forecast_shared\n"
        "湘江示范花园,岳麓区,长沙市岳麓区示范路 1 号,湘江示范置业有限公司,91430100MA4L000000,"
        f"1 栋,{_CODE},1,101,住宅,118.56,96.30,22.26\n",
    ),
    "POST /v1/departments/{kind}": (
        "text/csv",
        "id_number,local,spouse,minor_children\n430102199001011234,1,,\n",
    ),
    "POST /v1/contracts/{contract_id}/signatures": ("application/pdf", _PDF),
    "POST /v1/filings": ("application/pdf", _PDF),
    "POST /v1/filings/{number}/cancellation": ("application/pdf", _PDF),
    "POST /tsa": ("application/timestamp-query", "(a DER TimeStampReq, RFC 3161)"),
    "POST /ocsp": ("application/ocsp-request", "(a DER OCSPRequest, RFC 6960)"),
}


_BINARY = {"type": "string", "format": "binary"}


def add_examples(spec: dict[str, Any]) -> dict[str, Any]:
    """Put the examples above into ``spec`` (in place; idempotent)."""
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            name = f"{method.upper()} {path}"
            if name in RESPONSES:
                ok = next((c for c in op.get("responses", {}) if c.startswith("2")), None)
                if ok is not None:
                    content = op["responses"][ok].setdefault("content", {})
                    media = next(iter(content), "application/json")
                    content.setdefault(media, {}).setdefault("example", RESPONSES[name])
            if name in REQUESTS:
                media, example = REQUESTS[name]
                body = op.setdefault("requestBody", {"required": True, "content": {}})
                schema = {"type": "string"} if media.startswith("text/") else _BINARY
                body.setdefault("content", {}).setdefault(media, {"schema": schema})
                body["content"][media].setdefault("example", example)
    return spec
