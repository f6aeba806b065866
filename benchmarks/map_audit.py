"""Status map audit benchmark: what ``wangqian log audit`` and ``--audit-map`` cost per filing.

    python benchmarks/map_audit.py [--filings 100000] [--per-checkpoint 100] [--pg URL]

Builds a log of filing entries (one in five a change or cancellation of an earlier filing),
checkpointed with its status map every ``--per-checkpoint`` entries as the sequencer does,
then times the log audit with and without the map (in a fresh process each, for its peak
memory) and the mirror audit of an export. Prints the numbers; docs/operations.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from filing.entry import CancellationBasis, EntryEvent, FilingEntry, status_name  # noqa: E402
from ledger.export import export_to_directory  # noqa: E402
from ledger.log import Log  # noqa: E402
from ledger.merkle import leaf_hash  # noqa: E402
from ledger.note import Signer  # noqa: E402
from ledger.sequencer import Sequencer  # noqa: E402
from ledger.status_map import MapLeaf, MemoryMap, key_for  # noqa: E402
from ledger.status_store import StatusMapStore  # noqa: E402

ORIGIN = "bench.example/filings"
UNIT = "430104001001GB00001F00010299"


def entries(n: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    at = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    filed: list[tuple[str, int]] = []
    out = []
    for i in range(n):
        doc = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
        parties = (hashlib.sha256(b"p" + i.to_bytes(8, "big")).hexdigest(),)
        if filed and rng.random() < 0.2:
            number, ref = filed[rng.randrange(len(filed))]
            event = rng.choice([EntryEvent.CHANGED, EntryEvent.CANCELLED])
            basis = CancellationBasis.AGREEMENT if event is EntryEvent.CANCELLED else None
            entry = FilingEntry(event, number, doc, UNIT, at, parties, ref, basis)
        else:
            number = f"CS-2026-{len(filed) + 1:07d}"
            filed.append((number, i))
            entry = FilingEntry(EntryEvent.FILED, number, doc, UNIT, at, parties)
        out.append(entry.encode())
    return out


def build(url: str, data: list[bytes], per_checkpoint: int, skey: Signer) -> float:
    log = Log.open(url)
    sequencer = Sequencer(log, [skey], ORIGIN, status_map=StatusMapStore(log, status_name))
    start = time.perf_counter()
    for i in range(0, len(data), per_checkpoint):
        log.append_many(data[i : i + per_checkpoint])
        sequencer.step()
    seconds = time.perf_counter() - start
    sequencer.close()
    log.close()
    return seconds


def child_audit(url: str, vkey: str, with_map: bool) -> None:
    """Run in a fresh process: the audit, its time and this process's peak memory."""
    from ledger.audit import audit
    from ledger.note import Verifier

    log = Log.open(url)
    before = _high_water_kb()
    start = time.perf_counter()
    report = audit(log, [Verifier.from_vkey(vkey)], status_name if with_map else None)
    seconds = time.perf_counter() - start
    peak = _high_water_kb()
    assert report.ok, report.problems[:5]
    m = report.status_map
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak / 1024,
                "grew_mb": (peak - before) / 1024,
                "nodes": m.nodes_checked if m else 0,
                "proofs": m.proofs_checked if m else 0,
            }
        )
    )


def _high_water_kb() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not the parent's
    from before the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def map_bytes_per_filing(data: list[bytes]) -> tuple[float, int]:
    """The replayed map alone, measured with tracemalloc."""
    tracemalloc.start()
    m = MemoryMap()
    names = set()
    for i, e in enumerate(data):
        name = status_name(e)
        assert name is not None
        names.add(name)
        m.update([MapLeaf(key_for(name), i, leaf_hash(e))])
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    set_size = sys.getsizeof(names) + sum(sys.getsizeof(n) for n in names)
    return (used - set_size) / len(names), len(names)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filings", type=int, default=100_000, help="entries in the log")
    parser.add_argument("--per-checkpoint", type=int, default=100)
    parser.add_argument("--pg", help="a PostgreSQL URL (a fresh database or schema)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    if sys.argv[1:2] == ["--verify"]:  # wangqian-verify, then its peak memory on stderr
        from verifier.cli import main as verify_main

        code = verify_main(sys.argv[2:])
        print(_high_water_kb(), file=sys.stderr)
        sys.exit(code)
    args = parser.parse_args()
    if args.child:
        url, vkey, with_map = args.child
        child_audit(url, vkey, with_map == "map")
        return
    data = entries(args.filings)
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg or f"sqlite:///{tmp}/log.db"
        built = build(url, data, args.per_checkpoint, signer)
        every = args.per_checkpoint
        print(f"{len(data)} entries, a checkpoint every {every}: built in {built:.1f} s")
        vkey = signer.verifier.vkey
        plain = run_child(url, vkey, "plain")
        mapped = run_child(url, vkey, "map")
        for what, r in (("without", plain), ("with", mapped)):
            print(
                f"log audit {what} the map: {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB "
                f"(+{r['grew_mb']:.0f} MB during the audit; {r['nodes']:.0f} node rows, "
                f"{r['proofs']:.0f} proofs)"
            )
        log = Log.open(url)
        cp = log.latest_checkpoint()
        assert cp is not None
        export_to_directory(log, cp, Path(tmp) / "mirror")
        log.close()
        trust = {
            "version": 1,
            "roots": [],
            "tsa_roots": [],
            "filing_seals": [],
            "log": {"origin": ORIGIN, "keys": [{"vkey": vkey, "status": "active"}]},
            "witnesses": {"threshold": 0, "keys": []},
        }
        (Path(tmp) / "trust.json").write_text(json.dumps(trust))
        start = time.perf_counter()
        verify = subprocess.run(
            [
                *(sys.executable, __file__, "--verify", "--audit-map", f"{tmp}/mirror"),
                *("--trust", f"{tmp}/trust.json", "--lang", "en"),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        mirror_seconds = time.perf_counter() - start
        peak_mb = int(verify.stderr.strip().splitlines()[-1]) / 1024
        print(
            f"--audit-map of the export: exit {verify.returncode}, {mirror_seconds:.1f} s, "
            f"peak {peak_mb:.0f} MB"
        )
    per, filings = map_bytes_per_filing(data)
    print(f"replayed map: {per:.0f} bytes per filing ({filings} filings, tracemalloc)")


if __name__ == "__main__":
    main()
