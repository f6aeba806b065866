"""Filing benchmark: filings per second and time to receipt over HTTP, on PostgreSQL.

    python benchmarks/filing.py [--kind new|resale] [--filings 60] [--clients 4] [--workers N]
                                [--pg URL] [--no-write]

`wangqian serve --workers N` (PostgreSQL, its sequencer running; by default one
worker per core, as docs/operations.md advises a deployment) takes the load from
this process. ``--kind new`` (new homes): contracts are drafted, sealed by
the developer and signed by the buyer's "phone" beforehand. ``--kind resale``
(存量房): existing homes with their owner of record, each resale drafted by its
seller, who signs it on her phone beforehand (as the buyer starts hers); the
resale checks (ownership, 限售, live contracts) run at the draft. Either way,
what is measured is the last signature, the buyer's, which files the contract
and returns its receipt (validation of every signature, DSS, the B-LTA filing
seal, the filing number, the log entry, integration and a checkpoint). The
baseline, in the same run and process-for-process: pyHanko alone validating the
same two signatures as the platform must before it seals (AdES LTA validation
simulated under the seal's time-stamp, with pyHanko's own difference analysis,
same roots and revocation data) and applying the same B-LTA seal.
Rewrites the "Filing" (or "Filing, resale") section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import datetime as dt
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from pyhanko.pdf_utils import generic  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY  # noqa: E402
from pyhanko.sign.validation import ades  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from api import auth  # noqa: E402
from api.app import filing_service  # noqa: E402
from api.demo import DEVELOPER_ID, sample_inventory  # noqa: E402
from api.demo_resale import (  # noqa: E402
    BANK,
    DEPOSIT_FEN,
    OLD_BUILDING,
    PRICE_FEN,
    SELLERS,
    existing_homes_csv,
)
from benchmarks.report import write_section  # noqa: E402
from filing import api_keys  # noqa: E402
from filing.deployment import Deployment  # noqa: E402
from filing.seals import known_validation_data  # noqa: E402
from filing.service import PLATFORM_NAME  # noqa: E402
from keys.pki import new_key  # noqa: E402
from ledger.database import write_transaction  # noqa: E402
from signing import pades, remote  # noqa: E402
from signing.fonts import truetype_font  # noqa: E402
from signing.sample import sample_contract  # noqa: E402
from signing.seal_image import seal_file  # noqa: E402
from verifier import hex_strings  # noqa: E402
from verifier.signatures import validation_spec_with  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BUYER = sample_contract().buyers[0]
MANY_HOMES = (
    '[{"version": "bench-many-homes", "effective_from": "2017-03-18", '
    '"restricted_districts": ["岳麓区"], "local_max_homes": 100000, '
    '"non_local_min_months": 12, "non_local_max_homes": 0}]'
)
UNITS = len(sample_inventory().splitlines()) - 1
SELLER = SELLERS[0]  # owns every existing home of the resale run
MAX_RESALES = 2000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("new", "resale"), default="new")
    parser.add_argument("--filings", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="serve --workers (default: one per core, as a deployment runs it)",
    )
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.kind == "new" and not 1 <= args.filings <= UNITS - 1:
        parser.error(f"--filings takes 1..{UNITS - 1}: the sample project has {UNITS} units")
    if args.kind == "resale" and not 1 <= args.filings <= MAX_RESALES - 1:
        parser.error(f"--filings takes 1..{MAX_RESALES - 1} with --kind resale")

    schema_name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema_name}"))
    url = f"{args.pg}?options=-csearch_path%3D{schema_name}"
    tmp = Path(tempfile.mkdtemp(prefix="wangqian-bench-"))
    env = {**os.environ, "WANGQIAN_DATABASE_URL": url}
    os.environ["WANGQIAN_DATABASE_URL"] = url
    server = None
    try:
        # One buyer drafts every contract here: rules that let her (filing is measured, not
        # purchase limits).
        (tmp / "data").mkdir(parents=True)
        (tmp / "data" / "eligibility-rules.json").write_text(MANY_HOMES, encoding="utf-8")
        with Deployment.open(tmp / "data") as d:
            filing_service(d)
            with write_transaction(d.log.engine) as conn:
                keys = {
                    r: api_keys.create_key(conn, org, role)
                    for r, org, role in [
                        ("authority", "住建局", auth.Role.AUTHORITY),
                        ("developer", DEVELOPER_ID, auth.Role.DEVELOPER),
                        ("buyer", BUYER.id_number, auth.Role.BUYER),
                        ("seller", SELLER[1], auth.Role.BUYER),  # a person's key
                    ]
                }
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "wangqian"),
                "serve",
                "--insecure-dev-passphrase",  # a throwaway directory
                "--data",
                str(tmp / "data"),
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/log/vkey", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        ready = prepare if args.kind == "new" else prepare_resales
        pending = ready(base, keys, args.filings + 1)
        # The bare bound is measured on the parties' revision of one contract, before and
        # after the load (the machine's speed drifts; one side alone misled by 2x once).
        first = pending.pop()
        _, _, _, number = load(base, keys, [first], 1)
        reader = "developer" if args.kind == "new" else "buyer"  # a party of the contract
        party = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {keys[reader]}"}, timeout=60
        )
        document = party.get(f"/v1/filings/{number}/document")
        assert document.status_code == 200, document.text
        parties = parties_revision(document.content)
        # The machine's load while measuring: other work on it slows both sides, unevenly.
        loads = [os.getloadavg()[0]]
        baseline = bare_in_parallel(tmp / "data", parties, args.workers)
        loads.append(os.getloadavg()[0])
        cpu = _cpu_seconds(server.pid)
        lat, wall, receipts, _ = load(base, keys, pending, args.clients)
        cpu = _cpu_seconds(server.pid) - cpu
        loads.append(os.getloadavg()[0])
        after = bare_in_parallel(tmp / "data", parties, args.workers)
        loads.append(os.getloadavg()[0])
        for kind in baseline:
            baseline[kind] += after[kind]
        rate = len(lat) / wall
        print(
            f"{len(lat)} filings with {args.clients} clients in {wall:.1f}s: {rate:.2f} filings/s; "
            f"time to receipt p50 {percentile(lat, 50) * 1e3:.0f} ms, "
            f"p95 {percentile(lat, 95) * 1e3:.0f} ms, "
            f"p99 {percentile(lat, 99) * 1e3:.0f} ms; receipts {receipts}/{len(lat)}; "
            f"load average {min(loads):.1f}-{max(loads):.1f}"
        )
        ours_cpu = cpu / len(lat)
        bare_cpu = statistics.median(baseline["stamped-cpu"])
        print(
            f"CPU per filing: the server {ours_cpu * 1e3:.0f} ms, bare pyHanko (the same seal) "
            f"{bare_cpu * 1e3:.0f} ms: ours {bare_cpu / ours_cpu:.2f}x"
        )
        our_hex_cpu = statistics.median(baseline["stamped-our-hex-cpu"])
        print(
            f"  (bare pyHanko with wangqian's hex-string reader: {our_hex_cpu * 1e3:.0f} ms: "
            f"ours {our_hex_cpu / ours_cpu:.2f}x)"
        )
        for kind, what in (("stamped", "the same seal"), ("plain", "no visible stamp")):
            bare = statistics.median(baseline[kind])
            bound = args.workers / bare  # as many bare pyHanko processes as workers, at once
            print(
                f"bare pyHanko validation + B-LTA seal ({what}): {bare * 1e3:.0f} ms per filing "
                f"= {bound:.2f}/s in {args.workers} process(es); ours {rate / bound:.2f}x"
            )
        if not args.no_write:
            body = _report(args, rate, baseline, lat, receipts, loads, ours_cpu)
            section = "Filing" if args.kind == "new" else "Filing, resale"
            if args.workers > 1:
                section += f" with {args.workers} workers"
            write_section(REPO / "docs" / "benchmarks.md", section, body)
            print("wrote docs/benchmarks.md")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
        admin.dispose()


def prepare(base: str, keys: dict[str, str], n: int) -> list[dict[str, Any]]:
    """Drafted, developer-sealed contracts with the buyer's signature ready to send."""
    a = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['authority']}"}, timeout=120
    )
    dev = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['developer']}"}, timeout=120
    )
    buyer = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['buyer']}"}, timeout=120
    )
    csv = {"content-type": "text/csv"}
    inventory = sample_inventory()
    a.post(
        "/v1/registry/import", content=inventory.encode(), headers={**csv, "Idempotency-Key": "i"}
    )
    for kind, body in [
        ("households", f"id_number,local,spouse,minor_children\n{BUYER.id_number},1,,\n"),
        ("identities", f"id_number,name\n{BUYER.id_number},{BUYER.name}\n"),
    ]:
        a.post(
            f"/v1/departments/{kind}",
            content=body.encode(),
            headers={**csv, "Idempotency-Key": kind},
        )
    codes = [line.split(",")[6] for line in inventory.splitlines()[1:]][:n]
    a.post(
        "/v1/registry/permits",
        headers={"Idempotency-Key": "p"},
        json={"number": "P-1", "authority": "住建局", "valid_from": "2026-01-01", "units": codes},
    )
    s = sample_contract()
    out = []
    for i, code in enumerate(codes):
        dev.post(f"/v1/units/{code}/release", headers={"Idempotency-Key": code})
        r = dev.post(
            "/v1/contracts",
            headers={"Idempotency-Key": f"d{i}"},
            json={
                "unit_code": code,
                "number": f"HT-B-{i}",
                "price": "1000000",
                "payment_method": "LUMP_SUM",
                "buyers": [{"name": BUYER.name, "id_number": BUYER.id_number}],
                "escrow_bank": s.escrow.bank,
                "escrow_account_name": s.escrow.account_name,
                "escrow_account_number": s.escrow.account_number,
                "delivery_date": "2028-06-30",
                "dispute_body": s.dispute_body,
            },
        )
        cid = r.json()["id"]
        dev.post(f"/v1/contracts/{cid}/seal", headers={"Idempotency-Key": f"s{i}"})
        key = new_key()
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        r = buyer.post(
            f"/v1/contracts/{cid}/remote-signing/buyer-1/start",
            headers={"Idempotency-Key": f"a{i}"},
            json={"public_key_pem": pem.decode(), "name": BUYER.name, "id_number": BUYER.id_number},
        )
        sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
        out.append({"id": cid, "signature": base64.b64encode(sig).decode()})
    return out


def prepare_resales(base: str, keys: dict[str, str], n: int) -> list[dict[str, Any]]:
    """Resales drafted and signed by their seller, the buyer's signature ready to send:
    ``n`` existing homes of the old community, each owned by ``SELLER`` of record."""
    a = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['authority']}"}, timeout=120
    )
    seller = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['seller']}"}, timeout=120
    )
    buyer = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {keys['buyer']}"}, timeout=120
    )
    csv = {"content-type": "text/csv"}
    codes = [f"{OLD_BUILDING}{i:04d}" for i in range(1, n + 1)]
    r = a.post(
        "/v1/registry/import",
        content=existing_homes_csv(codes).encode(),
        headers={**csv, "Idempotency-Key": "i"},
    )
    assert r.status_code == 201, r.text
    for kind, body in [
        ("households", f"id_number,local,spouse,minor_children\n{BUYER.id_number},1,,\n"),
        (
            "identities",
            f"id_number,name\n{BUYER.id_number},{BUYER.name}\n{SELLER[1]},{SELLER[0]}\n",
        ),
    ]:
        a.post(
            f"/v1/departments/{kind}",
            content=body.encode(),
            headers={**csv, "Idempotency-Key": kind},
        )
    today = dt.date.today()
    out = []
    for i, code in enumerate(codes):
        r = a.post(
            f"/v1/units/{code}/ownership",
            headers={"Idempotency-Key": f"o{i}"},
            json={
                "certificate": f"湘（2015）长沙市不动产权第 {i:07d} 号",
                "owners": [{"name": SELLER[0], "id_number": SELLER[1]}],
                "registered_on": "2015-03-02",
            },
        )
        assert r.status_code == 201, r.text
        r = seller.post(
            "/v1/resale-contracts",
            headers={"Idempotency-Key": f"d{i}"},
            json={
                "unit_code": code,
                "number": f"ESF-B-{i}",
                "certificate_number": f"湘（2015）长沙市不动产权第 {i:07d} 号",
                "sellers": [{"name": SELLER[0], "id_number": SELLER[1]}],
                "buyers": [{"name": BUYER.name, "id_number": BUYER.id_number}],
                "price": f"{PRICE_FEN / 100:.2f}",
                "payment_method": "LOAN",
                "down_payment": f"{DEPOSIT_FEN / 100:.2f}",
                "loan_bank": BANK,
                "supervision": {
                    "bank": BANK,
                    "account_name": "长沙市存量房交易资金监管专户",
                    "account_number": "4300 0000 0000 9999",
                    "amount": f"{DEPOSIT_FEN / 100:.2f}",
                },
                "delivery_date": (today + dt.timedelta(days=120)).isoformat(),
                "transfer_deadline": (today + dt.timedelta(days=90)).isoformat(),
                "dispute_body": "长沙市岳麓区人民法院",
            },
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        sig = _phone(seller, cid, "seller-1", SELLER, f"s{i}")
        r = seller.post(
            f"/v1/contracts/{cid}/remote-signing/seller-1/finish",
            headers={"Idempotency-Key": f"sf{i}"},
            json={"signature": sig},
        )
        assert r.status_code == 200, r.text
        sig = _phone(buyer, cid, "buyer-1", (BUYER.name, BUYER.id_number), f"b{i}")
        out.append({"id": cid, "signature": sig})
    return out


def _phone(client: httpx.Client, cid: str, field: str, person: tuple[str, str], key_id: str) -> str:
    """A party's phone starts signing ``field``: its own key, the digest signed (base64)."""
    key = new_key()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    r = client.post(
        f"/v1/contracts/{cid}/remote-signing/{field}/start",
        headers={"Idempotency-Key": key_id},
        json={"public_key_pem": pem.decode(), "name": person[0], "id_number": person[1]},
    )
    assert r.status_code == 200, r.text
    sig = remote.device_sign(key, base64.b64decode(r.json()["digest_to_sign"]))
    return base64.b64encode(sig).decode()


def _report(
    args: Any,
    rate: float,
    baseline: Baseline,
    lat: list[float],
    receipts: int,
    loads: list[float],
    ours_cpu: float,
) -> str:
    p = {q: f"{percentile(lat, q) * 1e3:.0f} ms" for q in (50, 95, 99)}
    bare = {kind: statistics.median(runs) for kind, runs in baseline.items()}
    bound = {kind: args.workers / t for kind, t in bare.items()}
    processes = (
        "one `wangqian serve` process"
        if args.workers == 1
        else f"`wangqian serve --workers {args.workers}`"
    )
    every = baseline["stamped"] + baseline["plain"]
    kind = "" if args.kind == "new" else " --kind resale"
    what = (
        "the buyer's final remote-signing request"
        if args.kind == "new"
        else "resales (存量房) of existing homes, each drafted by its owner of record through the "
        "resale checks and signed by her on her phone beforehand; the buyer's final "
        "remote-signing request"
    )
    return "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/filing.py{kind} "
            f"--filings {args.filings} --clients {args.clients} --workers {args.workers}` on "
            f"{platform.machine()}, {os.cpu_count()} cores, PostgreSQL, {processes} (its "
            "sequencer, dispatcher and housekeeping included) under load from another process "
            f"on loopback. Measured: {what}, which completes "
            "the buyer's signature (CMS and time-stamp), validates every signature, seals at "
            "B-LTA with the visible stamp, files, logs and waits for the checkpointed receipt. "
            "Baseline: pyHanko alone (as released, its own hex-string reader) validating the "
            "same two signatures and applying a B-LTA "
            "seal with the same key and TSA, gathering validation data its own way, with the "
            "same visible stamp (the same seal) and, the strictest bound, with none; run in "
            f"{args.workers} process(es) at once as the service has workers, the median of "
            f"{len(baseline['stamped'])} runs each before and after the load "
            f"({min(every) * 1e3:.0f}-{max(every) * 1e3:.0f} ms) per filing and process. "
            f"The machine's 1-minute load average while measuring: {min(loads):.1f}-"
            f"{max(loads):.1f}"
            + (
                f" (above its {os.cpu_count()} cores: other work shared them)."
                if max(loads) > (os.cpu_count() or 1)
                else "."
            ),
            "",
            "| measure | wangqian | bare pyHanko bound | ratio |",
            "| --- | --- | --- | --- |",
            f"| filings per second, vs the same seal | {rate:.2f} | {bound['stamped']:.2f} | "
            f"{rate / bound['stamped']:.2f}x |",
            f"| filings per second, vs a seal without stamp | {rate:.2f} | {bound['plain']:.2f} | "
            f"{rate / bound['plain']:.2f}x |",
            f"| CPU per filing (the server's processes, all their threads; pyHanko's, same seal) | "
            f"{ours_cpu * 1e3:.0f} ms | {bare['stamped-cpu'] * 1e3:.0f} ms | "
            f"{bare['stamped-cpu'] / ours_cpu:.2f}x |",
            f"| CPU per filing, vs pyHanko with wangqian's hex-string reader "
            f"(`verifier/hex_strings.py`) | {ours_cpu * 1e3:.0f} ms | "
            f"{bare['stamped-our-hex-cpu'] * 1e3:.0f} ms | "
            f"{bare['stamped-our-hex-cpu'] / ours_cpu:.2f}x |",
            f"| time to receipt p50 | {p[50]} | {bare['stamped'] * 1e3:.0f} ms | |",
            f"| time to receipt p95 | {p[95]} | | |",
            f"| time to receipt p99 | {p[99]} | | |",
            f"| receipts returned with the 201 | {receipts} of {len(lat)} | | |",
        ]
    )


def parties_revision(sealed: bytes) -> bytes:
    """The revision the parties signed: the file up to the end of the last party signature."""
    sigs = list(PdfFileReader(BytesIO(sealed)).embedded_regular_signatures)
    last_party = [s for s in sigs if s.field_name != "filing-seal"][-1]
    start, length = last_party.byte_range[2], last_party.byte_range[3]
    return sealed[: start + length]


def load(
    base: str, keys: dict[str, str], pending: list[dict[str, Any]], clients: int
) -> tuple[list[float], float, int, str]:
    queue = list(pending)
    lock = threading.Lock()
    latencies: list[float] = []
    receipts = 0
    numbers: list[str] = []

    def worker() -> None:
        nonlocal receipts
        c = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {keys['buyer']}"}, timeout=120
        )
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            start = time.perf_counter()
            r = c.post(
                f"/v1/contracts/{item['id']}/remote-signing/buyer-1/finish",
                headers={"Idempotency-Key": "f" + item["id"]},
                json={"signature": item["signature"]},
            )
            elapsed = time.perf_counter() - start
            if r.status_code != 201:
                raise SystemExit(f"filing failed: {r.status_code} {r.text[:300]}")
            with lock:
                latencies.append(elapsed)
                receipts += bool(r.json().get("receipt"))
                numbers.append(r.json()["filing"])

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, receipts, numbers[0]


# Seconds per filing, each run, of each kind of bare_bound; "<kind>-cpu": its CPU seconds
Baseline = dict[str, list[float]]
KINDS = tuple(k + cpu for k in ("stamped", "plain", "stamped-our-hex") for cpu in ("", "-cpu"))
PYHANKO_HEX_READER = hex_strings.PYHANKO_READER


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system) the process ``pid`` and its descendants (``serve
    --workers``' worker processes) have used so far, all their threads."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    family, todo = {pid}, [pid]
    while todo:
        here = todo.pop()
        children = [p for p, parent in parents.items() if parent == here and p not in family]
        family.update(children)
        todo.extend(children)
    return sum(ticks.get(p, 0) for p in family) / os.sysconf("SC_CLK_TCK")


def bare_in_parallel(data: Path, parties: bytes, processes: int) -> Baseline:
    """``bare_bound`` in as many processes as the service has workers, all at once."""
    if processes == 1:
        return bare_bound(data, parties)
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        runs = pool.starmap(bare_bound, [(data, parties)] * processes)
    return {kind: [t for r in runs for t in r[kind]] for kind in KINDS}


def bare_bound(data: Path, seller_signed: bytes, runs: int = 5) -> Baseline:
    """pyHanko alone, each run: validate the signatures as the platform must, seal at B-LTA.

    "stamped" seals with the same visible stamp as the service (pyHanko's text stamp with
    the same font and text: the same seal); "plain" without any, the strictest bound. Both
    with pyHanko's own hex-string reader (this process imported the verifier, which installs
    its faster one: it is put back here). "stamped-our-hex" is "stamped" with wangqian's
    reader (verifier/hex_strings.py), to show what of the difference that reader makes.
    """
    with Deployment.open(data) as d:
        pki = d.pki
        seal = pki.filing_seal_certificate()
        reader = PdfFileReader(BytesIO(seller_signed))
        certs = []
        for sig in reader.embedded_regular_signatures:
            from cryptography import x509

            certs.append(x509.load_der_x509_certificate(sig.signer_cert.dump()))
        revocation = pki.revocation([*certs, seal])
        ts = pki.timestamper()
        style = pades.Stamp(
            truetype_font(), seal_file(PLATFORM_NAME, "备案专用章"), "备案", PLATFORM_NAME
        ).style()
        # The same data the platform's judgement holds: the seal's and the signers' certificates.
        known = known_validation_data(revocation)
        signers_der = tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)
        known = dataclasses.replace(known, certificates=(*known.certificates, *signers_der))
        spec = dataclasses.replace(
            validation_spec_with(d.verifier_trust(), known), diff_policy=DEFAULT_DIFF_POLICY
        )
        times: Baseline = {kind: [] for kind in KINDS}
        readers = {True: hex_strings.read_hex_string_from_stream, False: PYHANKO_HEX_READER}
        with pki.filing_seal() as signer:
            for n in range(runs + 1):
                for kind, stamp, our_hex in (
                    ("stamped", style, False),
                    ("plain", None, False),
                    ("stamped-our-hex", style, True),
                ):
                    generic.read_hex_string_from_stream = readers[our_hex]
                    start, cpu = time.perf_counter(), time.process_time()
                    vc = revocation.validation_context()
                    asyncio.run(_ades_before_sealing(seller_signed, spec))
                    meta = signers.PdfSignatureMetadata(
                        field_name="filing-seal",
                        md_algorithm="sha256",
                        subfilter=fields.SigSeedSubFilter.PADES,
                        embed_validation_info=True,
                        use_pades_lta=True,
                        validation_context=vc,
                    )
                    signers.PdfSigner(
                        meta, signer=signer, timestamper=ts, stamp_style=stamp
                    ).sign_pdf(IncrementalPdfFileWriter(BytesIO(seller_signed)))
                    if n > 0:  # the first round warms up
                        times[kind].append(time.perf_counter() - start)
                        times[kind + "-cpu"].append(time.process_time() - cpu)
        hex_strings.install()
        return times


async def _ades_before_sealing(pdf: bytes, spec: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    for sig in PdfFileReader(BytesIO(pdf)).embedded_regular_signatures:
        result = await ades.simulate_future_ades_lta_validation(sig, spec, now, now)
        assert result.ades_subindic.status.name == "PASSED", result.failure_msg


if __name__ == "__main__":
    main()
