"""The HTTP app (log routes, problem+json), the demo, the audit command and wangqian-verify."""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from filing.deployment import Deployment
from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.note import open_note
from ledger.receipt import Receipt
from ledger.tiles import TILE_WIDTH, TileRef
from tests.helpers import BIN, REPO


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    d = Deployment.open(tmp_path / "data")
    yield d
    d.close()


def test_log_routes_serve_checkpoint_tiles_proofs_and_receipts(deployment: Deployment) -> None:
    entries = [f"filing {i}".encode() for i in range(TILE_WIDTH + 44)]
    deployment.log.append_many(entries)
    deployment.sequencer().step()
    client = TestClient(create_app(deployment, run_sequencer=False))

    note = client.get("/log/checkpoint").text
    text, _ = open_note(note, [deployment.log_verifier])
    cp = Checkpoint.parse(text)
    assert cp.size == len(entries)

    # A mirror rebuilds the root from tiles alone, as C2SP tlog-tiles intends.
    level0 = client.get("/log/tile/0/000").content + client.get("/log/tile/0/001.p/44").content
    hashes = [level0[i : i + 32] for i in range(0, len(level0), 32)]
    assert merkle.root_hash(hashes) == cp.root_hash
    assert client.get("/log/tile/1/000.p/1").content == merkle.root_hash(hashes[:TILE_WIDTH])
    bundle = client.get("/" + "log/" + TileRef(None, 1, 44).path).content
    assert bundle[2 : 2 + len(entries[TILE_WIDTH])] == entries[TILE_WIDTH]

    proof = client.get("/log/proof/inclusion", params={"index": 5, "size": cp.size}).json()
    merkle.verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        5,
        cp.size,
        [base64.b64decode(p) for p in proof["proof"]],
        cp.root_hash,
    )
    cons = client.get("/log/proof/consistency", params={"old": 10, "new": cp.size}).json()
    old_root = merkle.root_hash(hashes[:10])
    merkle.verify_consistency(
        10, cp.size, [base64.b64decode(p) for p in cons["proof"]], old_root, cp.root_hash
    )
    receipt = Receipt.parse(client.get("/log/receipt/7").text)
    assert receipt.extra == entries[7] and receipt.index == 7


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/log/checkpoint", 404, "no-checkpoint"),
        ("/log/tile/0/7", 400, "bad-tile-path"),
        ("/log/tile/0/000", 404, "tile-not-found"),
        ("/log/proof/inclusion?index=0&size=5", 404, "size-out-of-range"),
        ("/log/proof/inclusion?index=-1&size=x", 422, "invalid-request"),
        ("/log/receipt/0", 404, "not-yet-logged"),
        # Found by schemathesis: integers past 64 bits reached SQLite (OverflowError, a 500).
        ("/log/proof/inclusion?index=0&size=99999999999999999999999", 422, "invalid-request"),
        ("/log/receipt/99999999999999999999999", 422, "invalid-request"),
        ("/log/tile/0/x999/x999/x999/x999/x999/x999/x999/999", 400, "bad-tile-path"),
        ("/nowhere", 404, "not-found"),
    ],
)
def test_errors_are_problem_json(deployment: Deployment, path: str, status: int, slug: str) -> None:
    client = TestClient(create_app(deployment, run_sequencer=False))
    resp = client.get(path)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["type"].endswith("/" + slug) and body["status"] == status


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_demo_runs_twice_on_one_data_dir_and_its_receipt_verifies(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    first = _run(str(BIN / "wangqian"), "demo", "--data", str(data), "--out", str(out))
    assert first.returncode == 0, first.stderr
    if "WANGQIAN_KEY_PASSPHRASE" not in os.environ:  # it says what it runs on
        assert "as with --insecure-dev-passphrase" in first.stdout, first.stdout
    second = _run(str(BIN / "wangqian"), "demo", "--data", str(data), "--out", str(out))
    assert second.returncode == 0, second.stderr
    # New filings each run: a sale, a cancelled sale, a resale (存量房买卖) and a lease (房屋租赁).
    assert re.search(r"filed CS-\d{4}-000005 ", second.stdout), second.stdout
    assert "cancelled" in second.stdout
    assert re.search(r"resold unit \S+ \(存量房买卖\) as CS-\d{4}-000007", second.stdout)
    assert "the resale verifies offline (核验通过 PASSED): 存量房买卖" in second.stdout
    # 住宅专项维修资金: the first sale's deposit, signed by the designated bank, proven offline.
    assert re.search(
        r"maintenance fund \(住宅专项维修资金\) of CS-\d{4}-000005: 高层", second.stdout
    )
    assert "and its maintenance-fund deposit: 维修资金记录已证明" in second.stdout, second.stdout
    assert (out / "resale.pdf").read_bytes().startswith(b"%PDF-")
    assert re.search(r"leased unit \S+ \(房屋租赁\) as CS-\d{4}-000008", second.stdout)
    assert "the lease verifies offline (核验通过 PASSED): 房屋租赁" in second.stdout
    lease = _run(
        str(BIN / "wangqian-verify"), str(out / "lease.pdf"),
        "--receipt", str(out / "lease.pdf.tlog-proof"), "--trust", str(out / "trust-bundle.json"),
    )  # fmt: skip
    assert lease.returncode == 0 and "房屋租赁" in lease.stdout, lease.stdout
    assert (out / "lease-certificate.pdf").read_bytes().startswith(b"%PDF-")
    receipt, trust = out / "contract.pdf.tlog-proof", out / "trust-bundle.json"
    assert (out / "contract.pdf").read_bytes().startswith(b"%PDF-")
    assert (out / "root-ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    pdf = str(out / "contract.pdf")
    ok = _run(str(BIN / "wangqian-verify"), pdf, "--receipt", str(receipt), "--trust", str(trust))
    assert ok.returncode == 0 and "PASSED" in ok.stdout

    tampered = tmp_path / "bad.tlog-proof"
    lines = receipt.read_text().split("\n")
    lines[3] = base64.b64encode(b"\x00" * 32).decode()  # first proof hash
    tampered.write_text("\n".join(lines))
    bad = _run(str(BIN / "wangqian-verify"), pdf, "--receipt", str(tampered), "--trust", str(trust))
    assert bad.returncode == 1 and "包含证明不成立" in bad.stdout
    junk = tmp_path / "junk"
    junk.write_text("not a receipt")
    worse = _run(str(BIN / "wangqian-verify"), pdf, "--receipt", str(junk), "--trust", str(trust))
    assert worse.returncode == 3

    audit = _run(str(BIN / "wangqian"), "log", "audit", "--data", str(data))
    assert audit.returncode == 0 and "audit passed" in audit.stdout

    # The whole audit: the log, and the database against it.
    assert "anchored the unit and filing histories in the log" in second.stdout
    anchored = _run(str(BIN / "wangqian"), "admin", "anchor-histories", "--data", str(data))
    assert anchored.returncode == 0 and "nothing new" in anchored.stdout  # the demo did it
    full = _run(str(BIN / "wangqian"), "audit", "--data", str(data))
    assert full.returncode == 0, full.stdout + full.stderr
    assert "records: 8 filings, 2 cancellations" in full.stdout  # per run: 2 sales, resale, lease
    assert "not yet anchored: unit_events 0, filing_events 0" in full.stdout
    assert full.stdout.rstrip().endswith("audit passed")
    with sqlite3.connect(data / "wangqian.db") as db:  # a cancellation the log never saw
        db.execute("UPDATE filings SET status = 'CANCELLED' WHERE status = 'ACTIVE'")
    full = _run(str(BIN / "wangqian"), "audit", "--data", str(data))
    assert full.returncode == 1
    assert "PROBLEM [state] filing CS-" in full.stdout and "audit FAILED" in full.stdout
    log_only = _run(str(BIN / "wangqian"), "log", "audit", "--data", str(data))
    assert log_only.returncode == 0  # what the log audit alone cannot see
    cannot = subprocess.run(
        [str(BIN / "wangqian"), "audit", "--data", str(data)],
        capture_output=True,
        text=True,
        env={**os.environ, "WANGQIAN_KEY_PASSPHRASE": "wrong"},
    )
    assert cannot.returncode == 3 and "cannot audit" in cannot.stderr


def test_demo_reports_a_wrong_passphrase_clearly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Deployment.open(data).close()
    env_run = subprocess.run(
        [str(BIN / "wangqian"), "demo", "--data", str(data), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env={"WANGQIAN_KEY_PASSPHRASE": "wrong", "PATH": "/usr/bin:/bin"},
    )
    assert env_run.returncode == 1
    assert "wrong passphrase" in env_run.stderr
    assert "Traceback" not in env_run.stderr


def test_serve_sequences_entries_appended_by_another_process(tmp_path: Path) -> None:
    import time

    import httpx

    from tests.helpers import free_port, stop, wait_http, wangqian

    data = tmp_path / "data"
    port = free_port()
    server = wangqian(
        "serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port)
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/log/vkey", server)
        writer = Deployment.open(data)
        writer.log.append_many([b"a", b"b", b"c"])
        writer.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            resp = httpx.get(f"http://127.0.0.1:{port}/log/checkpoint")
            if resp.status_code == 200 and resp.text.split("\n")[1] == "3":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server's sequencer never checkpointed the new entries")
        receipt = Receipt.parse(httpx.get(f"http://127.0.0.1:{port}/log/receipt/2").text)
        assert receipt.extra == b"c"
    finally:
        stop(server)


def test_every_operation_in_the_openapi_description_has_an_example(tmp_path: Path) -> None:
    from api.app import create_app
    from filing.deployment import Deployment

    with Deployment.open(tmp_path / "data") as deployment:
        spec = create_app(deployment, run_sequencer=False).openapi()
    missing = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ok = next(c for c in op["responses"] if c.startswith("2"))
            media = op["responses"][ok].get("content", {})
            if not any("example" in m or "examples" in m for m in media.values()):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
    assert spec["paths"]["/v1/filings"]["post"]["requestBody"]["content"]["application/pdf"]
