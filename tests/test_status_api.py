"""Status proofs over HTTP, on SQLite and PostgreSQL, with a log past the old 200,000 limit.

The public page read at most 200,000 entries to look for cancellations; beyond that it
answered PASSED for a cancelled contract. Status proofs cost the same at any log size.
"""

from __future__ import annotations

import base64
import time

from fastapi.testclient import TestClient

from filing.deployment import Deployment
from ledger.status_file import StatusFile, parse_checkpoint
from tests.helpers import judgment_pdf
from tests.test_filing_api import Api, _post, _setup_registry, api, file_contract
from verifier.entry import LoggedEntry

__all__ = ["api"]  # the fixture, shared with the filing API tests

PADDING = 200_001  # past the old MAX_LOG_SCAN: every entry after the filing, none a filing's


def _status(client: TestClient, d: Deployment, number: str, index: int) -> StatusFile:
    """The status once a witnessed checkpoint covers log index ``index``."""
    deadline = time.monotonic() + 60
    while True:
        cp = d.latest_witnessed_checkpoint()
        if cp is not None and cp.size > index:
            break
        assert time.monotonic() < deadline, "no checkpoint covers the entry"
        time.sleep(0.1)
    r = client.get(f"/log/status/{number}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    status = StatusFile.parse(r.text)
    status.check(parse_checkpoint(status.checkpoint))
    return status


def test_status_proofs_follow_a_filing_past_200000_entries(api: Api) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    cid, number = file_contract(client, keys)
    filed = client.get(f"/v1/filings/{number}", headers=keys["authority"]).json()
    filed_index = int(filed["log_index"])
    status = _status(client, d, number, filed_index)
    assert status.latest is not None and status.latest.index == filed_index
    assert LoggedEntry.read(status.latest.entry).event == "filed"

    never = client.get("/log/status/CS-2099-999999")
    assert never.status_code == 200
    absent = StatusFile.parse(never.text)
    assert absent.latest is None and absent.check(parse_checkpoint(absent.checkpoint)) is None

    for start in range(0, PADDING, 50_000):
        d.log.append_many([b'{"kind":"padding","v":1}'] * min(50_000, PADDING - start))
    r = _post(
        client,
        f"/v1/filings/{number}/cancellation",
        {**keys["authority"], "content-type": "application/pdf"},
        params={"reason": "判决解除", "judgment": "(2026)湘0104民初7号"},
        content=judgment_pdf(),
    )
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    cancel_index = int(r.json()["log_index"])  # type: ignore[attr-defined]
    assert cancel_index > filed_index + PADDING

    old = status.checkpoint.split("\n")[1]
    status = _status(client, d, number, cancel_index)
    assert status.latest is not None and status.latest.index == cancel_index
    entry = LoggedEntry.read(status.latest.entry)
    assert (entry.event, entry.ref, entry.basis) == ("cancelled", filed_index, "judgment")
    # The proof stays small however long the log: two proofs of ~log2(n) hashes.
    assert len(status.to_text()) < 6000
    with_old = StatusFile.parse(client.get(f"/log/status/{number}?old={old}").text)
    cp = parse_checkpoint(with_old.checkpoint)
    first_cp = parse_checkpoint(client.get(f"/log/status/{number}").text.split("\n\n", 1)[1])
    assert first_cp.size == cp.size
    assert with_old.old_size == int(old) and with_old.consistency

    pdf = client.get(f"/v1/filings/{number}/document", headers=keys["authority"]).content
    page = client.post(
        "/v1/verification", json={"pdf": base64.b64encode(pdf).decode(), "lang": "zh"}
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["verdict"] == "CANCELLED", body["report"]["reason"]
    assert body["report"]["filing"]["checked_up_to"] >= cancel_index + 1
    assert cid


def test_status_endpoint_refuses_bad_input_with_problems(api: Api) -> None:
    client, _, _ = api
    for path in ("/log/status/" + "A" * 65, "/log/status/CS%202026", "/log/status/x?old=0"):
        r = client.get(path)
        assert r.status_code in (404, 422), (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json"), path
