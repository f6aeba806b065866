"""Crash safety (SIGKILL at random moments) and concurrent appenders on PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.audit import audit
from ledger.log import Log
from ledger.note import Signer
from tests.helpers import REPO

ORIGIN = "crash.wangqian.example/log"
SEED = bytes(range(32))


def _worker(url: str, rounds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workers.append_loop", url, SEED.hex(), ORIGIN, str(rounds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _acked(output: str) -> list[tuple[int, int]]:
    return [
        (int(parts[1]), int(parts[2]))
        for line in output.splitlines()
        if (parts := line.split()) and parts[0] == "ACK" and len(parts) == 3
    ]


def test_sigkill_loses_no_acknowledged_entry(db_url: str) -> None:
    verifier = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(SEED)).verifier
    rng = random.Random(2026)
    acked_max = -1
    kills = 0
    for _ in range(20):
        proc = _worker(db_url, rounds=100_000)
        time.sleep(rng.uniform(0.6, 1.5))  # start-up takes ~0.5 s; kill mid-work
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        kills += 1
        for _, last in _acked(out):
            acked_max = max(acked_max, last)

        log = Log.open(db_url)
        appended = log.appended()
        assert appended > acked_max, "an acknowledged entry was lost"
        log.entries(0, appended)  # raises on any gap
        report = audit(log, [verifier])
        assert report.ok, report.problems
        assert log.integrate() == appended  # integration resumes where it stopped
        log.close()
    assert kills == 20 and acked_max > 0


def test_four_processes_append_on_postgresql(pg_url: str) -> None:
    Log.open(pg_url).close()  # create the schema once, before the race
    procs = [_worker(pg_url, rounds=60) for _ in range(4)]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outputs.append(out)

    acked = [r for out in outputs for r in _acked(out)]
    indices = sorted(i for first, last in acked for i in range(first, last + 1))
    assert indices == list(range(len(indices))), "duplicate or missing index"

    # Each integrated batch came from whoever held the lock; together they cover
    # a prefix of the log exactly once: never two integrators on one range.
    batches = sorted(
        (int(p[1]), int(p[2]))
        for out in outputs
        for line in out.splitlines()
        if (p := line.split()) and p[0] == "INT"
    )
    assert batches, "nobody integrated"
    pos = 0
    for old, new in batches:
        assert old == pos, f"batches overlap or leave a hole at {pos}: {batches}"
        pos = new
    log = Log.open(pg_url)
    assert log.size() == pos
    assert log.integrate() == len(indices)
    verifier = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(SEED)).verifier
    assert audit(log, [verifier]).ok
    log.close()
