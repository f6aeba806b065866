"""Anyone can audit the status map: ``wangqian log audit`` against the database, and
``wangqian-verify --audit-map`` against a copy of the log; the verifier keys entries as the
platform does."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from filing import access_log as access_anchor
from filing import history
from filing.deployment import Deployment, DeploymentConfig
from filing.entry import CancellationBasis, EntryEvent, FilingEntry, party_hash, status_name
from ledger import map_audit as ledger_map_audit
from ledger.audit import audit
from ledger.checkpoint import Checkpoint
from ledger.export import export_to_directory
from ledger.log import StoredCheckpoint
from ledger.merkle import leaf_hash
from ledger.note import Signer, sign_note
from ledger.status_file import StatusFileError, parse_checkpoint
from ledger.status_map import MapLeaf, MemoryMap, key_for, map_line, prefix
from ledger.status_store import StatusMapStore
from tests.helpers import BIN, DemoOutput
from verifier.cli import main as verify_main
from verifier.map_audit import status_name as verifier_status_name

UNIT = "430104001001GB00001F00010299"
AT = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
PARTY = party_hash(b"s" * 16, "居民身份证", "430104199001011234")


def _filing(
    event: EntryEvent,
    number: str,
    ref: int | None = None,
    basis: CancellationBasis | None = None,
) -> bytes:
    doc = hashlib.sha256(f"{event.value} {number}".encode()).hexdigest()
    return FilingEntry(event, number, doc, UNIT, AT, (PARTY,), ref, basis).encode()


def _access_anchor() -> bytes:
    return access_anchor.entry(1, 40, "ab" * 32, "00" * 32, AT)


def _history_anchor(name: str = "unit_events") -> bytes:
    return history.entry(history.HistoryAnchor(name, 1, 9, "00" * 32, "cd" * 32, AT))


# The log this module's deployment holds: every kind of entry the platform writes, in three
# checkpoints: A, B and C filed; A changed, B cancelled by agreement; C cancelled by
# judgment, D filed.
ROUNDS = [
    [_filing(EntryEvent.FILED, n) for n in ("CS-2026-000001", "CS-2026-000002", "CS-2026-000003")],
    [
        _filing(EntryEvent.CHANGED, "CS-2026-000001", 0),
        _filing(EntryEvent.CANCELLED, "CS-2026-000002", 1, CancellationBasis.AGREEMENT),
        _access_anchor(),
    ],
    [
        _filing(EntryEvent.CANCELLED, "CS-2026-000003", 2, CancellationBasis.JUDGMENT),
        _history_anchor(),
        _filing(EntryEvent.FILED, "CS-2026-000004"),
    ],
]
CANCELLED_B = 4  # the log index of B's cancellation


@dataclasses.dataclass(frozen=True)
class Logged:
    deployment: Deployment
    checkpoints: list[StoredCheckpoint]
    entries: list[bytes]


@pytest.fixture
def logged(db_url: str, tmp_path: Path) -> Iterator[Logged]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(DeploymentConfig(database_url=db_url).to_json())
    d = Deployment.open(data)
    checkpoints, entries = [], []
    try:
        for batch in ROUNDS:
            d.log.append_many(batch)
            entries += batch
            cp = d.sequencer().step()
            assert cp is not None
            checkpoints.append(cp)
        yield Logged(d, checkpoints, entries)
    finally:
        d.close()


def _replay(entries: list[bytes]) -> bytes:
    """The map an auditor computes, by hand: each entry's filing to its latest event."""
    m = MemoryMap()
    for index, data in enumerate(entries):
        name = status_name(data)
        if name is not None:
            m.update([MapLeaf(key_for(name), index, leaf_hash(data))])
    return m.root


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _export(data: Path, out: Path) -> None:
    run = subprocess.run(
        [str(BIN / "wangqian"), "log", "export", "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _trust(d: Deployment, directory: Path) -> str:
    path = directory / "trust-bundle.json"
    path.write_text(d.trust_bundle_json(), encoding="utf-8")
    return str(path)


def _audit_map(
    logdir: Path, trust: str, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[int, str]:
    code = verify_main(["--audit-map", str(logdir), "--trust", trust, *more])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out + out.err


# -- the honest case ------------------------------------------------------------------


def test_an_honest_log_passes_both_audits(
    logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = logged.deployment
    report = audit(d.log, d.log_verifiers(), status_name)
    assert report.ok, report.problems
    assert report.status_map is not None
    assert report.status_map.filings == 4
    assert report.status_map.roots_checked == 6  # three checkpoint lines, three versions
    assert report.status_map.nodes_checked > 0 and report.status_map.proofs_checked >= 3

    run = subprocess.run(
        [str(BIN / "wangqian"), "log", "audit", "--data", str(d.data_dir)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "status map: 4 filings; 6 roots" in run.stdout and "audit passed" in run.stdout

    _export(d.data_dir, tmp_path / "mirror")
    trust = _trust(d, tmp_path)
    code, out = _audit_map(tmp_path / "mirror", trust, capsys)
    assert code == 0, out
    root = _b64(_replay(logged.entries))
    assert "核验通过" in out and f"由条目重算的状态表根：{root}" in out and "北京时间" in out
    assert "树大小 9" in out and "备案事件 7 条，涉及 4 件备案" in out
    code, out = _audit_map(tmp_path / "mirror", trust, capsys, "--lang", "en")
    assert code == 0 and "PASSED" in out and f"Root the checkpoint commits to: {root}" in out


def test_the_demo_deployment_passes_both_audits(
    demo: DemoOutput, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real deployment, witnessed: filings made over HTTP, a cancellation, anchors."""
    run = subprocess.run(
        [str(BIN / "wangqian"), "log", "audit", "--data", str(demo.data)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "audit passed" in run.stdout, run.stdout + run.stderr
    _export(demo.data, tmp_path)
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(demo.trust_json, encoding="utf-8")
    code, out = _audit_map(tmp_path, str(trust), capsys, "--lang", "en")
    assert code == 0, out
    assert "Witnesses: " in out and "(the policy needs 2)" in out and "UTC+8" in out


# -- a map root that omits a cancellation -------------------------------------------


def test_a_map_root_that_omits_a_cancellation_is_caught_by_both_audits(
    logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = logged.deployment
    size = len(logged.entries)
    honest = _replay(logged.entries)
    # The log key signs a checkpoint whose map still shows B as filed.
    hidden = [b"" if i == CANCELLED_B else e for i, e in enumerate(logged.entries)]
    forged_root = _replay(hidden)
    assert forged_root != honest
    cp = Checkpoint(d.config.origin, size, d.log.root_hash(size), (map_line(forged_root),))
    note = sign_note(cp.to_text(), d.signers)
    forged = d.log.record_checkpoint(size, cp.root_hash, note)

    report = audit(d.log, d.log_verifiers(), status_name)
    assert report.problems == [
        f"checkpoint #{forged.id} (size {size}) commits to status map root {_b64(forged_root)}, "
        f"the entries give {_b64(honest)}"
    ]

    export_to_directory(d.log, forged, tmp_path / "mirror")  # what a lying log serves
    trust = _trust(d, tmp_path)
    code, out = _audit_map(tmp_path / "mirror", trust, capsys)
    assert code == 1 and "核验失败" in out and "不一致" in out, out
    assert f"检查点承诺的状态表根：{_b64(forged_root)}" in out
    code, out = _audit_map(tmp_path / "mirror", trust, capsys, "--lang", "en")
    assert code == 1 and "is not the one its entries give" in out


# -- a stale map entry: a forged node row ------------------------------------------


def _forge_row(d: Deployment, version: int, leaf: MapLeaf, depth: int) -> None:
    """What someone with database access may still do: the table refuses changes, not new rows."""
    with d.log.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO log_map_nodes (depth, prefix, version, hash, leaf) "
                "VALUES (:d, :p, :v, :h, :l)"
            ),
            {
                "d": depth,
                "p": prefix(leaf.key, depth),
                "v": version,
                "h": leaf.hash,
                "l": leaf.encode(),
            },
        )


def _stale_leaf_of_b(logged: Logged) -> tuple[MapLeaf, int]:
    """B's leaf as it was before its cancellation, and the depth B's leaf sits at now."""
    d = logged.deployment
    key = key_for("CS-2026-000002")
    proof = d.status_map.proof(key, len(logged.entries))
    assert proof.terminal is not None and proof.terminal.index == CANCELLED_B
    return MapLeaf(key, 1, leaf_hash(logged.entries[1])), len(proof.siblings)


def test_a_stale_map_entry_in_a_forged_node_row_is_caught(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = logged.deployment
    latest = logged.checkpoints[-1]
    stale, depth = _stale_leaf_of_b(logged)
    # Under the newest version, in which B did not change: every stored and signed root
    # stays right, and the served status of B shows its filing, not its cancellation.
    _forge_row(d, latest.size, stale, depth)
    served = d.status_map.status("CS-2026-000002", latest)
    assert served.latest is not None and served.latest.index == 1
    with pytest.raises(StatusFileError):  # a verifier given it fails it, but must be given it
        served.check(parse_checkpoint(latest.cosigned_note))

    where = f"status map node (depth {depth}, prefix {prefix(stale.key, depth).hex()})"
    caught = f"{where} of version {latest.size}: no entry changed it then"
    # The rows alone catch it. Roots would not: they are kept apart from the nodes; nor
    # would served proofs of the keys a version changed, unless the row lies beside them.
    monkeypatch.setattr(ledger_map_audit, "SPOT_CHECKS", 0)
    assert audit(d.log, d.log_verifiers(), status_name).problems == [caught]
    monkeypatch.undo()
    report = audit(d.log, d.log_verifiers(), status_name)
    assert caught in report.problems
    assert not [p for p in report.problems if p.startswith(("checkpoint", "status map version"))]


def test_a_node_row_under_a_version_the_map_never_had_is_caught(logged: Logged) -> None:
    """A row above the newest version: the next update would read it (it reads the newest
    rows), and every map after it would be built on the stale leaf."""
    d = logged.deployment
    stale, depth = _stale_leaf_of_b(logged)
    future = len(logged.entries) + 100
    _forge_row(d, future, stale, depth)
    report = audit(d.log, d.log_verifiers(), status_name)
    assert report.problems == [
        f"status map node rows under version {future}, a tree size the map was never brought to"
    ]
    # Once the map moves on in a process that reads its top from the database (a restart:
    # a running sequencer keeps the top in memory), the checkpoint signed on it is caught.
    sequencer = d.sequencer()
    sequencer.status_map = StatusMapStore(d.log, status_name)
    d.log.append(_filing(EntryEvent.FILED, "CS-2026-000005"))
    cp = sequencer.step()
    assert cp is not None
    report = audit(d.log, d.log_verifiers(), status_name)
    assert any(
        p.startswith(f"checkpoint #{cp.id} (size {cp.size}) commits to status map root")
        for p in report.problems
    ), report.problems


# -- the mirror audit's other answers ------------------------------------------------


def test_audit_map_cannot_tell_or_refuses(
    logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = logged.deployment
    mirror = tmp_path / "mirror"
    export_to_directory(d.log, logged.checkpoints[-1], mirror)
    trust = _trust(d, tmp_path)
    # Signed by a key the bundle does not name: it proves nothing either way.
    bundle = json.loads(d.trust_bundle_json())
    someone = Signer(d.config.origin, Ed25519PrivateKey.generate())
    bundle["log"]["keys"] = [{"vkey": someone.verifier.vkey, "status": "active"}]
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps(bundle), encoding="utf-8")
    code, out = _audit_map(mirror, str(stranger), capsys)
    assert code == 2 and "无法确定" in out and "检查点不可信" in out, out
    # A checkpoint without a map line: nothing to audit, nothing proven wrong.
    size = len(logged.entries)
    bare = Checkpoint(d.config.origin, size, d.log.root_hash(size))
    (mirror / "checkpoint").write_text(sign_note(bare.to_text(), d.signers), encoding="utf-8")
    code, out = _audit_map(mirror, trust, capsys, "--lang", "en")
    assert code == 2 and "commits to no status map" in out, out
    # A map line the log signed that is not a hash: the log signed garbage.
    odd = dataclasses.replace(bare, extensions=("wangqian.cn/status-map AAAA",))
    (mirror / "checkpoint").write_text(sign_note(odd.to_text(), d.signers), encoding="utf-8")
    code, out = _audit_map(mirror, trust, capsys, "--lang", "en")
    assert code == 1 and "malformed status map line" in out, out
    # Bad input: no such directory, a missing tile, a contract besides, no trust bundle.
    (mirror / "checkpoint").write_text(logged.checkpoints[-1].cosigned_note, encoding="utf-8")
    assert _audit_map(tmp_path / "nowhere", trust, capsys)[0] == 3
    assert verify_main(["--audit-map", str(mirror)]) == 3
    assert verify_main(["--audit-map", str(mirror), "--trust", trust, "--json"]) == 3
    assert verify_main([str(tmp_path / "x.pdf"), "--audit-map", str(mirror), "--trust", trust]) == 3
    assert "bad input: --audit-map takes only --trust and --lang" in capsys.readouterr().err
    (mirror / "tile/entries/000.p/9").unlink()
    code, out = _audit_map(mirror, trust, capsys)
    assert code == 3 and "bad input: log data is missing" in out


# -- one key rule on both sides ----------------------------------------------------


def test_the_verifier_keys_every_entry_as_the_platform_does(demo: DemoOutput) -> None:
    made = [e for batch in ROUNDS for e in batch]
    made += [
        _filing(EntryEvent.CANCELLED, "CS-2026-000009", 7),  # before cancellations had a basis
        _history_anchor("filing_events"),
    ]
    with Deployment.open(demo.data) as d:  # and every entry a real deployment wrote
        logged = [data for _, data in d.log.iter_entries()]
    kinds = set()
    for data in made + logged:
        platform, verifier = status_name(data), verifier_status_name(data)
        assert platform == verifier, data
        if platform is None:
            kinds.add(_kind(data))
        else:
            entry = FilingEntry.decode(data)
            kinds.add(f"{entry.event.value} {entry.basis.value if entry.basis else ''}".strip())
    assert kinds >= {
        "filed",
        "changed",
        "cancelled agreement",
        "cancelled judgment",
        "cancelled",
        "access-log",
        "history",
    }


def _kind(data: bytes) -> str:
    """What an entry outside the status map is: a filing's event (fund and maintenance-fund
    events; a new home's carries no ``kind``), or an anchor's kind."""
    entry = json.loads(data)
    return str(entry.get("event") or entry["kind"])
