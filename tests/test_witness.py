"""Witnesses: the tlog-witness protocol, split-view refusal, and a 2-of-3 policy on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from filing.deployment import Deployment, DeploymentConfig, WitnessConfig
from ledger.add_checkpoint import AddCheckpoint
from ledger.audit import audit
from ledger.checkpoint import Checkpoint
from ledger.log import Log
from ledger.note import ALG_COSIGNATURE_V1, Signer, Verifier, open_note, sign_note
from ledger.sequencer import REWITNESS_INTERVAL, Sequencer, WitnessEndpoint
from ledger.status_map import map_line
from ledger.witness import Witness, WitnessError
from tests.helpers import DemoOutput, free_port, stop, wait_http, wangqian
from verifier.receipt import ReceiptInvalid, verify_receipt
from verifier.trust import TrustBundle

ORIGIN = "test.wangqian.example/log"


@pytest.fixture
def log_signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def witness(tmp_path: Path, log_signer: Signer) -> Iterator[Witness]:
    w = Witness.open(
        Signer("w.example/1", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1),
        [log_signer.verifier],
        f"sqlite:///{tmp_path / 'witness.db'}",
    )
    yield w
    w.close()


def _grow(log: Log, signer: Signer, n: int) -> tuple[int, str]:
    start = log.appended()
    log.append_many([f"e{i}".encode() for i in range(start, start + n)])
    size = log.integrate()
    return size, sign_note(Checkpoint(ORIGIN, size, log.root_hash(size)).to_text(), [signer])


def test_witness_cosigns_consistent_checkpoints_only(
    tmp_path: Path, witness: Witness, log_signer: Signer
) -> None:
    log = Log.open(f"sqlite:///{tmp_path / 'log.db'}")
    size1, note1 = _grow(log, log_signer, 5)
    line = witness.add_checkpoint(AddCheckpoint(0, (), note1).to_text())
    _, sigs = open_note(note1 + line, [witness.signer.verifier])
    assert sigs[0].timestamp is not None

    size2, note2 = _grow(log, log_signer, 7)
    # A stale old size gets 409 with the witness's size.
    with pytest.raises(WitnessError) as stale:
        witness.add_checkpoint(AddCheckpoint(0, (), note2).to_text())
    assert (stale.value.status, stale.value.size) == (409, size1)
    # A wrong proof gets 422, and nothing changes.
    bad = log.consistency_proof(size1 - 1, size2)
    with pytest.raises(WitnessError) as wrong:
        witness.add_checkpoint(AddCheckpoint(size1, tuple(bad), note2).to_text())
    assert wrong.value.status == 422
    assert witness.latest(ORIGIN) == (size1, log.root_hash(size1))
    witness.add_checkpoint(
        AddCheckpoint(size1, tuple(log.consistency_proof(size1, size2)), note2).to_text()
    )
    assert witness.latest(ORIGIN) == (size2, log.root_hash(size2))

    # Same size, another root: a split view.
    forked = sign_note(Checkpoint(ORIGIN, size2, b"\x05" * 32).to_text(), [log_signer])
    with pytest.raises(WitnessError) as split:
        witness.add_checkpoint(AddCheckpoint(size2, (), forked).to_text())
    assert split.value.status == 409
    log.close()


def test_witness_cosigns_one_status_map_root_per_tree(
    tmp_path: Path, witness: Witness, log_signer: Signer
) -> None:
    """Same tree, another status map line: the log would show two maps, both witnessed."""
    log = Log.open(f"sqlite:///{tmp_path / 'log.db'}")
    size, _ = _grow(log, log_signer, 3)
    root = log.root_hash(size)

    def note(map_root: bytes) -> str:
        body = Checkpoint(ORIGIN, size, root, (map_line(map_root),)).to_text()
        return sign_note(body, [log_signer])

    plain = sign_note(Checkpoint(ORIGIN, size, root).to_text(), [log_signer])
    witness.add_checkpoint(AddCheckpoint(0, (), plain).to_text())
    honest = note(b"\x01" * 32)
    # A log that starts committing to its map re-issues its tree with the map line: fine.
    witness.add_checkpoint(AddCheckpoint(size, (), honest).to_text())
    witness.add_checkpoint(AddCheckpoint(size, (), honest).to_text())  # the same again: fine
    with pytest.raises(WitnessError) as split:
        witness.add_checkpoint(AddCheckpoint(size, (), note(b"\x02" * 32)).to_text())
    assert split.value.status == 409 and "split view" in split.value.message
    with pytest.raises(WitnessError):  # nor back to a text without the map
        witness.add_checkpoint(AddCheckpoint(size, (), plain).to_text())
    log.close()


def test_witness_rejects_unknown_logs_and_bad_signatures(witness: Witness) -> None:
    stranger = Signer("other.example/log", Ed25519PrivateKey.generate())
    note = sign_note(Checkpoint("other.example/log", 1, b"\x00" * 32).to_text(), [stranger])
    with pytest.raises(WitnessError) as unknown:
        witness.add_checkpoint(AddCheckpoint(0, (), note).to_text())
    assert unknown.value.status == 404
    impostor = Signer(ORIGIN, Ed25519PrivateKey.generate())
    note = sign_note(Checkpoint(ORIGIN, 1, b"\x00" * 32).to_text(), [impostor])
    with pytest.raises(WitnessError) as forged:
        witness.add_checkpoint(AddCheckpoint(0, (), note).to_text())
    assert forged.value.status == 403
    # Non-ASCII digits were read as numbers ("old ١٢" as 12); "old ²" escaped as a ValueError.
    odd = ["old ١٢\n\nx\n", "old ²\n\nx\n", "old +1\n\nx\n", "old 1 \n\nx\n"]
    short_hash = "old 1\n" + "AAAA" + "\n\nx\n"
    for body in ["old 1\n", "new 1\n\nx\n", "old 01\n\nx\n", "old 0\n!!!\n\nx\n", *odd, short_hash]:
        with pytest.raises(WitnessError) as malformed:
            witness.add_checkpoint(body)
        assert malformed.value.status == 400, body
    arabic = sign_note(Checkpoint(ORIGIN, 1, b"\x00" * 32).to_text(), [stranger])
    with pytest.raises(ValueError, match="canonical"):
        Checkpoint.parse(arabic.split("\n\n")[0].replace("\n1\n", "\n١\n") + "\n")
    from fastapi.testclient import TestClient

    from api.witness_app import create_witness_app

    with TestClient(create_witness_app(witness)) as client:
        for body in odd:
            assert client.post("/add-checkpoint", content=body.encode()).status_code == 400


def test_tampered_leaf_is_caught_by_audit_and_refused_by_a_witness(
    db_url: str, tmp_path: Path, witness: Witness, log_signer: Signer
) -> None:
    log = Log.open(db_url)
    size1, note1 = _grow(log, log_signer, 300)
    log.record_checkpoint(size1, log.root_hash(size1), note1)
    witness.add_checkpoint(AddCheckpoint(0, (), note1).to_text())
    assert audit(log, [log_signer.verifier]).ok

    with log.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER log_leaves_no_update"))
        else:
            conn.execute(text("ALTER TABLE log_leaves DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE log_leaves SET data = :d WHERE idx = 3"), {"d": b"forged"})
    report = audit(log, [log_signer.verifier])
    assert not report.ok
    assert "stored tile 0/0 does not match the entries" in report.problems
    assert any("does not match the tree recomputed" in p for p in report.problems)

    # Whoever rewrites history must rebuild the tree from the forged entries; the
    # witness, holding the honest root, refuses the rewritten tree.
    forged = Log.open(f"sqlite:///{tmp_path / 'forged.db'}")
    forged.append_many(log.entries(0, size1))
    size2, note2 = _grow(forged, log_signer, 5)
    with pytest.raises(WitnessError) as refused:
        witness.add_checkpoint(
            AddCheckpoint(size1, tuple(forged.consistency_proof(size1, size2)), note2).to_text()
        )
    assert refused.value.status == 422
    log.close()
    forged.close()


def test_three_witnesses_two_of_three_with_one_down(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    deployment = Deployment.open(data)
    log_vkey = deployment.log_verifier.vkey
    procs, endpoints = [], []
    try:
        for i in range(3):
            port = free_port()
            wdir = tmp_path / f"witness{i}"
            args = [
                "witness",
                "--insecure-dev-passphrase",
                "--data",
                str(wdir),
                "--port",
                str(port),
                "--name",
                f"w{i}.example",
            ]
            proc = wangqian(*args, "--trust-log", log_vkey)
            wait_http(f"http://127.0.0.1:{port}/vkey", proc)
            procs.append(proc)
            vkey = (wdir / "witness.vkey").read_text().strip()
            endpoints.append(WitnessConfig(vkey, f"http://127.0.0.1:{port}"))
        stop(procs[2])  # one of three is down from the start
        deployment.save_config(
            DeploymentConfig(
                origin=deployment.config.origin, witnesses=tuple(endpoints), witness_threshold=2
            )
        )
        trust = TrustBundle.from_json(json.dumps(deployment.trust_bundle()))
        seq = deployment.sequencer()

        for round_ in range(3):
            idx = deployment.log.append_many([f"round {round_} {i}".encode() for i in range(4)])
            cp = seq.step()
            assert cp is not None and len(cp.cosignatures) == 2
            verified = verify_receipt(deployment.log.receipt(idx[-1], cp), trust)
            assert sorted(verified.cosigners) == ["w0.example", "w1.example"]

        stop(procs[1])  # now only one answers: below the policy
        idx = deployment.log.append_many([b"lonely"])
        cp = seq.step()
        assert cp is not None and len(cp.cosignatures) == 1
        with pytest.raises(ReceiptInvalid, match="policy needs 2"):
            verify_receipt(deployment.log.receipt(idx[0], cp), trust)
        stored = deployment.log.latest_checkpoint()
        assert stored is not None and stored.cosignatures == cp.cosignatures
        # Receipts are built on the newest checkpoint that meets the policy, not this one ...
        witnessed = deployment.latest_witnessed_checkpoint()
        assert witnessed is not None and witnessed.size < cp.size
        assert seq.wait_for(cp.size, timeout=0.3) is None
        # ... and once the witness is back, the same tree is offered again and cosigned:
        # the under-witnessed checkpoint does not stay so until the log grows.
        port = int(endpoints[1].url.rsplit(":", 1)[1])
        args = [
            "witness",
            "--insecure-dev-passphrase",
            "--data",
            str(tmp_path / "witness1"),
            "--port",
            str(port),
        ]
        procs[1] = wangqian(*args, "--name", "w1.example", "--trust-log", log_vkey)
        wait_http(f"http://127.0.0.1:{port}/vkey", procs[1])
        time.sleep(REWITNESS_INTERVAL)  # offers are spaced out
        again = seq.step()
        assert again is not None and again.size == cp.size and len(again.cosignatures) == 2
        assert seq.wait_for(cp.size, timeout=1) == again
        assert deployment.latest_witnessed_checkpoint() == again
        verify_receipt(deployment.log.receipt(idx[0], again), trust)
    finally:
        for p in procs:
            stop(p)
        deployment.close()


def test_the_demo_is_witnessed_two_of_two_and_its_witnesses_refuse_a_truncated_log(
    demo: DemoOutput, tmp_path: Path
) -> None:
    names = ["court.changsha.example/witness", "notary.changsha.example/witness"]
    bundle = json.loads(demo.trust_json)
    assert bundle["witnesses"]["threshold"] == 2
    assert sorted(Verifier.from_vkey(k["vkey"]).name for k in bundle["witnesses"]["keys"]) == names
    assert sorted(verify_receipt(demo.receipt, demo.trust).cosigners) == names
    # Each its own directory: its own key and store.
    stores = [demo.data / "witnesses" / slug for slug in ("court", "notary")]
    assert all((d / "witness.db").exists() and (d / "keys" / "witness-ed25519.pem").exists()
               for d in stores)  # fmt: skip
    assert len({(d / "witness.vkey").read_text() for d in stores}) == 2

    # The log's tail cut off (a backup from before its last entry, say): the witnesses,
    # which cosigned the longer tree, cosign nothing smaller.
    d = Deployment.open(demo.data)
    try:
        latest = d.log.latest_checkpoint()
        assert latest is not None and len(latest.cosignatures) == 2
        truncated = Log.open(f"sqlite:///{tmp_path / 'truncated.db'}")
        truncated.append_many(d.log.entries(0, latest.size - 1))
        endpoints = [WitnessEndpoint(Verifier.from_vkey(w.vkey), w.url) for w in d.config.witnesses]
        sequencer = Sequencer(truncated, d.signers, d.config.origin, endpoints, threshold=2)
        cp = sequencer.step()
        assert cp is not None and cp.size == latest.size - 1 and cp.cosignatures == ()
        with pytest.raises(ReceiptInvalid) as refused:
            verify_receipt(truncated.receipt(0, cp), demo.trust)
        assert str(refused.value) == "0 witness cosignatures (counted by key), the policy needs 2"
        sequencer.close()
        truncated.close()
    finally:
        d.close()
