"""Department scopes, statistics over HTTP and a court's evidence package, on both databases."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

from sqlalchemy import select

from api import auth
from filing import access_log
from tests.helpers import BIN, judgment_pdf
from tests.test_filing_api import BUYER, Api, _setup_registry, api, file_contract

__all__ = ["api"]  # the fixture, shared with the filing API tests


def _reads(d: object, action: str) -> list[tuple[str, str]]:
    with d.log.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(access_log.access_log.c.org, access_log.access_log.c.subject).where(
                access_log.access_log.c.action == action
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


def test_each_department_sees_its_scope_and_every_read_is_logged(api: Api, tmp_path: Path) -> None:
    client, keys, d = api
    _setup_registry(client, keys)
    cid, number = file_contract(client, keys)
    bank, tax, court, stats = keys["bank"], keys["tax"], keys["court"], keys["stats"]

    # A bank: the filing's status for a loan, and nothing that names a person.
    loan = client.get(f"/v1/loans/filings/{number}", headers=bank)
    assert loan.status_code == 200 and loan.json()["in_force"] is True
    assert BUYER[1] not in loan.text and BUYER[0] not in loan.text
    for path in (
        f"/v1/filings/{number}/document",
        f"/v1/contracts/{cid}",
        f"/v1/contracts/{cid}/document",
        "/v1/tax/filings?from=2000-01-01&to=2100-01-01",
        f"/v1/court/filings/{number}/evidence",
    ):
        refused = client.get(path, headers=bank)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert BUYER[1] not in client.get(f"/v1/filings/{number}", headers=bank).text
    assert _reads(d, "loan-read-filing") == [("示范银行", number)]

    # Tax: price, area and the parties.
    rows = client.get("/v1/tax/filings?from=2000-01-01&to=2100-01-01", headers=tax).json()
    assert [r["filing"] for r in rows] == [number]
    assert rows[0]["buyers"][0]["id_number"] == BUYER[1] and rows[0]["price"] == "1422720.00"
    csv = client.get("/v1/tax/filings?from=2000-01-01&to=2100-01-01&format=csv", headers=tax)
    assert csv.headers["content-type"].startswith("text/csv") and BUYER[1] in csv.text
    assert client.get(f"/v1/loans/filings/{number}", headers=tax).status_code == 403
    assert len(_reads(d, "tax-read-filings")) == 2
    backwards = client.get("/v1/tax/filings?from=2026-02-01&to=2026-01-01", headers=tax)
    assert backwards.status_code == 422

    # Another developer sees nothing of it.
    assert client.get(f"/v1/filings/{number}", headers=keys["other"]).status_code == 404

    # Statistics for the authority and the statistics department, not for banks.
    by_district = client.get("/v1/stats/filings?by=district", headers=stats).json()
    assert [(r["key"], r["filings"], r["value"]) for r in by_district] == [
        ("岳麓区", 1, "1422720.00")
    ]
    stock = client.get("/v1/stats/stock?by=project&format=csv", headers=keys["authority"])
    assert stock.text.splitlines()[0] == "key,not_released,available,reserved,unsold_area_m2"
    assert stock.text.splitlines()[1].startswith("湘江示范花园,0,1,0,")  # CODES[1] is unsold
    assert client.get("/v1/stats/filings", headers=bank).status_code == 403
    assert client.get("/v1/stats/filings?period=week", headers=stats).status_code == 422

    # A court: the evidence package, which wangqian-verify checks as it is.
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=court)
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    (tmp_path / "evidence.zip").write_bytes(zipped.content)
    verify_zip = [str(BIN / "wangqian-verify"), str(tmp_path / "evidence.zip"), "--json"]
    # The package's own trust bundle vouches for nothing until the court pins it.
    alone = subprocess.run(verify_zip, capture_output=True, text=True)
    assert alone.returncode == 2, alone.stdout + alone.stderr
    assert json.loads(alone.stdout)["checks"][0]["sub_indication"] == "NO_TRUST_ANCHOR"
    # The court pins the SHA-256 the platform publishes: the package holds those very bytes.
    published = d.trust_bundle_json().encode()
    with zipfile.ZipFile(tmp_path / "evidence.zip") as z:
        assert z.read("trust-bundle.json") == published
    pin = hashlib.sha256(published).hexdigest()
    run = subprocess.run([*verify_zip, "--trust-sha256", pin], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["verdict"] == "PASSED" and report["filing"]["filing"] == number
    assert any("pinned by its SHA-256" in n for n in report["notes"])
    assert {c["name"] for c in report["checks"]} >= {"consistency", "later-events"}
    assert _reads(d, "court-read-evidence") == [("岳麓区人民法院", number)]
    assert client.get("/v1/court/filings/CS-1999-000001/evidence", headers=court).status_code == 404


def test_a_cancelled_filing_s_evidence_package_says_cancelled(api: Api, tmp_path: Path) -> None:
    client, keys, _ = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    r = client.post(
        f"/v1/filings/{number}/cancellation",
        params={"reason": "判决解除", "judgment": "(2026)湘0104民初1号"},
        content=judgment_pdf(),
        headers={**keys["court"], "Idempotency-Key": "cancel", "content-type": "application/pdf"},
    )
    assert r.status_code == 201, r.text
    d = api[2]
    d.sequencer().step()
    zipped = client.get(f"/v1/court/filings/{number}/evidence", headers=keys["court"]).content
    (tmp_path / "e.zip").write_bytes(zipped)
    (tmp_path / "trust-bundle.json").write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    run = subprocess.run(
        [
            *(str(BIN / "wangqian-verify"), str(tmp_path / "e.zip"), "--lang", "en"),
            *("--trust", str(tmp_path / "trust-bundle.json")),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "Verdict: CANCELLED" in run.stdout, run.stdout + run.stderr


def test_the_access_log_is_anchored_in_the_filing_log_and_changes_are_caught(api: Api) -> None:
    from filing import access_log as access_anchor

    client, keys, d = api
    engine = d.log.engine
    assert access_anchor.anchor(engine, d.log) is None  # nothing read yet
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    client.get(f"/v1/loans/filings/{number}", headers=keys["bank"])
    first = access_anchor.anchor(engine, d.log)
    assert first is not None and first.from_id == 1
    entry = json.loads(d.log.entry(first.log_index))
    assert entry["kind"] == "access-log" and entry["sha256"] == first.digest
    assert BUYER[1] not in d.log.entry(first.log_index).decode()  # only the digest is public
    client.get(f"/v1/loans/filings/{number}", headers=keys["bank"])
    second = access_anchor.anchor(engine, d.log)
    assert second is not None and second.from_id == first.to_id + 1
    assert json.loads(d.log.entry(second.log_index))["prev"] == first.digest
    assert access_anchor.check(engine, d.log) == []
    cli = [str(BIN / "wangqian"), "admin", "anchor-access-log", "--data", str(d.data_dir)]
    ok = subprocess.run([*cli, "--check"], capture_output=True, text=True)
    assert ok.returncode == 0 and "matches" in ok.stdout, ok.stdout + ok.stderr
    # Someone with the rights to drop the guard rewrites who read what: the anchors tell.
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER access_log_no_update")
        else:
            conn.exec_driver_sql("DROP TRIGGER access_log_append_only ON access_log")
        conn.exec_driver_sql("UPDATE access_log SET org = '无名氏' WHERE id = 1")
    problems = access_anchor.check(engine, d.log)
    assert problems and "changed since anchored" in problems[0]
    bad = subprocess.run([*cli, "--check"], capture_output=True, text=True)
    assert bad.returncode == 1 and "CHANGED" in bad.stdout


def test_department_reads_succeed_while_others_write(api: Api) -> None:
    """Reads that are then recorded once failed on SQLite with 'database is locked'."""
    import threading

    from ledger.database import write_transaction

    client, keys, d = api
    _setup_registry(client, keys)
    _, number = file_contract(client, keys)
    stop = threading.Event()

    def writer() -> None:  # the sequencer and the dispatcher write like this all the time
        while not stop.is_set():
            with write_transaction(d.log.engine) as conn:
                access_log.record_access(conn, auth.Caller("load", auth.Role.AUTHORITY), "x", "y")

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        answers = [
            client.get(f"/v1/loans/filings/{number}", headers=keys["bank"]).status_code
            for _ in range(40)
        ]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert answers == [200] * 40
    assert len(_reads(d, "loan-read-filing")) == 40
