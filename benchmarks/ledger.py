"""Ledger benchmark: the stored log side by side with pymerkle's SqliteTree, in one run.

    python benchmarks/ledger.py [--leaves 1000000] [--pg URL | --no-pg] [--no-write]

Prints ratios against pymerkle measured in the same run and rewrites the
"Ledger" section of docs/benchmarks.md. pymerkle is GPL and only ever a baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from ledger.log import Log  # noqa: E402

ENTRY_SIZE = 128
BATCH = 10_000
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def entries(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(ENTRY_SIZE) for _ in range(n)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- throughput ------------------------------------------------------------


def pymerkle_append(path: Path, data: list[bytes]) -> float:
    import pymerkle

    tree = pymerkle.SqliteTree(str(path))

    def run() -> None:
        for i in range(0, len(data), BATCH):
            tree.append_entries(data[i : i + BATCH])

    seconds = timed(run)
    tree.close()
    return len(data) / seconds


def ours_sequential(url: str, data: list[bytes]) -> float:
    log = Log.open(url)

    def run() -> None:
        for i in range(0, len(data), BATCH):
            log.append_many(data[i : i + BATCH])
        log.integrate()

    seconds = timed(run)
    assert log.size() == len(data)
    log.close()
    return len(data) / seconds


def _integrator(url: str, target: int, started: mp.synchronize.Event) -> None:
    log = Log.open(url)
    started.set()
    while log.integrate() < target:
        time.sleep(0.002)
    log.close()


def ours_pipelined(url: str, data: list[bytes]) -> float:
    """One process appends while the sequencer process integrates, as in production."""
    Log.open(url).close()
    ctx = mp.get_context("spawn")
    started = ctx.Event()
    proc = ctx.Process(target=_integrator, args=(url, len(data), started))
    proc.start()
    started.wait()
    log = Log.open(url)
    start = time.perf_counter()
    for i in range(0, len(data), BATCH):
        log.append_many(data[i : i + BATCH])
    proc.join()
    seconds = time.perf_counter() - start
    assert proc.exitcode == 0 and log.size() == len(data)
    log.close()
    return len(data) / seconds


# -- proofs in a fresh process -----------------------------------------------

PROOF_SCRIPT = """
import random, statistics, sys, time
sys.path.insert(0, {repo!r})
from ledger.log import Log
n, url = {n}, {url!r}
t0 = time.perf_counter(); log = Log.open(url); opened = time.perf_counter() - t0
rng = random.Random(3)
t0 = time.perf_counter(); log.inclusion_proof(rng.randrange(n), n); cold = time.perf_counter() - t0
inc, con = [], []
for _ in range(200):
    i = rng.randrange(n)
    t0 = time.perf_counter(); log.inclusion_proof(i, n); inc.append(time.perf_counter() - t0)
    old = rng.randint(1, n)
    t0 = time.perf_counter(); log.consistency_proof(old, n); con.append(time.perf_counter() - t0)
print(cold, statistics.median(inc), statistics.median(con))
"""

PYMERKLE_PROOF_SCRIPT = """
import random, sys, time
import pymerkle
n, path = {n}, {path!r}
tree = pymerkle.SqliteTree(path)
rng = random.Random(3)
t0 = time.perf_counter(); tree.prove_inclusion(rng.randrange(n) + 1, n)
cold = time.perf_counter() - t0
t0 = time.perf_counter(); tree.prove_consistency(rng.randint(1, n), n)
cons = time.perf_counter() - t0
print(cold, cons)
"""


def fresh_process(script: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return [float(x) for x in out.split()]


# -- storage ---------------------------------------------------------------


def sqlite_bytes(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def pg_bytes(url: str, schema: str) -> int:
    engine = create_engine(url.split("?")[0])
    with engine.connect() as conn:
        total = conn.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind = 'r'"
            ),
            {"s": schema},
        ).scalar()
    engine.dispose()
    return int(total or 0)


def pg_schema(base: str) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{name}", name


def drop_pg_schema(base: str, name: str) -> None:
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL base URL")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    n = args.leaves
    data = entries(n)
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"{n:,} leaves of {ENTRY_SIZE} bytes; appends in batches of {BATCH:,}")
        base = pymerkle_append(d / "pymerkle.db", data)
        print(f"pymerkle SqliteTree append_entries, same batches: {base:,.0f} leaves/s (baseline)")
        seq = ours_sequential(f"sqlite:///{d / 'seq.db'}", data)
        pipe = ours_pipelined(f"sqlite:///{d / 'pipe.db'}", data)
        print(f"ours, SQLite, append then integrate: {seq:,.0f} leaves/s ({seq / base:.2f}x)")
        print(f"ours, SQLite, append || integrate:   {pipe:,.0f} leaves/s ({pipe / base:.2f}x)")
        rows.append(
            (
                "SQLite: append + integrate, one process after the other",
                f"{seq:,.0f} leaves/s",
                f"{base:,.0f} leaves/s (append only)",
                f"{seq / base:.2f}x",
            )
        )
        rows.append(
            (
                "SQLite: appender and sequencer processes side by side",
                f"{pipe:,.0f} leaves/s",
                f"{base:,.0f} leaves/s (append only)",
                f"{pipe / base:.2f}x",
            )
        )

        cold, inc, con = fresh_process(
            PROOF_SCRIPT.format(repo=str(REPO), n=n, url=f"sqlite:///{d / 'seq.db'}")
        )
        pm_cold, pm_cons = fresh_process(
            PYMERKLE_PROOF_SCRIPT.format(n=n, path=str(d / "pymerkle.db"))
        )
        print(
            f"proofs, fresh process: inclusion median {inc * 1e3:.2f} ms, consistency median "
            f"{con * 1e3:.2f} ms, cold {cold * 1e3:.2f} ms vs pymerkle cold {pm_cold * 1e3:.0f} ms "
            f"({pm_cold / cold:.0f}x faster), pymerkle consistency {pm_cons * 1e3:.0f} ms"
        )
        rows.append(
            ("SQLite: inclusion proof, median of 200, fresh process", f"{inc * 1e3:.2f} ms", "", "")
        )
        rows.append(("SQLite: consistency proof, median of 200", f"{con * 1e3:.2f} ms", "", ""))
        rows.append(
            (
                "SQLite: first (cold) inclusion proof, fresh process",
                f"{cold * 1e3:.2f} ms",
                f"{pm_cold * 1e3:.0f} ms",
                f"{pm_cold / cold:.0f}x faster",
            )
        )
        rows.append(("SQLite: cold consistency proof", "", f"{pm_cons * 1e3:.0f} ms", ""))
        ours_b, pm_b = sqlite_bytes(d / "seq.db") / n, sqlite_bytes(d / "pymerkle.db") / n
        print(f"bytes per leaf: ours {ours_b:.0f}, pymerkle {pm_b:.0f} ({ENTRY_SIZE}-byte entries)")
        rows.append(
            (
                "SQLite: bytes stored per leaf (entry 128 B)",
                f"{ours_b:.0f}",
                f"{pm_b:.0f}",
                f"{ours_b / pm_b:.2f}x",
            )
        )

        if not args.no_pg:
            url, schema = pg_schema(args.pg)
            try:
                pseq = ours_sequential(url, data)
                drop_pg_schema(args.pg, schema)
                url, schema = pg_schema(args.pg)
                ppipe = ours_pipelined(url, data)
                pcold, pinc, pcon = fresh_process(PROOF_SCRIPT.format(repo=str(REPO), n=n, url=url))
                pb = pg_bytes(args.pg, schema) / n
            finally:
                drop_pg_schema(args.pg, schema)
            print(
                f"ours, PostgreSQL: sequential {pseq:,.0f}/s ({pseq / base:.2f}x), pipelined "
                f"{ppipe:,.0f}/s ({ppipe / base:.2f}x); inclusion {pinc * 1e3:.2f} ms, "
                f"consistency {pcon * 1e3:.2f} ms, cold {pcold * 1e3:.2f} ms; {pb:.0f} bytes/leaf"
            )
            rows += [
                (
                    "PostgreSQL: append + integrate, one process after the other",
                    f"{pseq:,.0f} leaves/s",
                    f"{base:,.0f} leaves/s (pymerkle SQLite)",
                    f"{pseq / base:.2f}x",
                ),
                (
                    "PostgreSQL: appender and sequencer side by side",
                    f"{ppipe:,.0f} leaves/s",
                    f"{base:,.0f} leaves/s (pymerkle SQLite)",
                    f"{ppipe / base:.2f}x",
                ),
                (
                    "PostgreSQL: inclusion proof, median, fresh process",
                    f"{pinc * 1e3:.2f} ms",
                    "",
                    "",
                ),
                ("PostgreSQL: consistency proof, median", f"{pcon * 1e3:.2f} ms", "", ""),
                (
                    "PostgreSQL: cold inclusion proof",
                    f"{pcold * 1e3:.2f} ms",
                    f"{pm_cold * 1e3:.0f} ms (pymerkle SQLite)",
                    f"{pm_cold / pcold:.0f}x faster",
                ),
                ("PostgreSQL: bytes per leaf (tables and indexes)", f"{pb:.0f}", "", ""),
            ]

    if not args.no_write:
        lines = [
            f"Measured {time.strftime('%Y-%m-%d')} by "
            f"`python benchmarks/ledger.py --leaves {n}` on "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
            f"{n:,} leaves of {ENTRY_SIZE} random bytes. Baseline: pymerkle 7.0.0 `SqliteTree`, "
            "same data, same run.",
            "",
            "| measure | wangqian | pymerkle | ratio |",
            "| --- | --- | --- | --- |",
            *[f"| {a} | {b} | {c} | {r} |" for a, b, c, r in rows],
        ]
        write_section(REPO / "docs" / "benchmarks.md", "Ledger", "\n".join(lines))
        print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
