"""Whether a filing still stands, from a status proof: honest answers, stale ones, forgeries.

Built from the demo deployment: its own status files for its real checkpoints (cosigned by
its two witnesses), and logs of our own making from its entries, signed with its real log
key and cosigned by a witness the tests' bundle trusts, to say what a dishonest operator
could and could not make the verifier believe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from filing.deployment import Deployment
from filing.disclosure import evidence_package
from filing.entry import CancellationBasis, EntryEvent, FilingEntry, status_name
from ledger.add_checkpoint import AddCheckpoint
from ledger.checkpoint import Checkpoint
from ledger.log import StoredCheckpoint
from ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from ledger.note import Signer, sign_note
from ledger.receipt import Receipt
from ledger.status_file import LatestEvent, StatusFile, StatusFileError, parse_checkpoint
from ledger.status_map import MapLeaf, MemoryMap, key_for, map_line
from tests.helpers import DemoOutput
from tests.test_verifier_evidence import (
    W1,
    _assert_one_bad_input_line,
    _bundle,
    _check,
    _cli,
    _cosign,
    _package,
)
from verifier.entry import LoggedEntry
from verifier.evidence import EvidencePackage, PackageUnreadable
from verifier.later import LaterCheckpoint
from verifier.models import Indication, Verdict
from verifier.receipt import SignedCheckpoint, open_checkpoint
from verifier.reports import to_html, to_json, to_text
from verifier.status import check_status
from verifier.trust import TrustBundle
from verifier.verify import verify


@pytest.fixture
def deployment(demo: DemoOutput) -> Iterator[Deployment]:
    d = Deployment.open(demo.data)
    yield d
    d.close()


# -- the demo's own status files, for its real, witnessed checkpoints -----------------


@dataclasses.dataclass
class Demo:
    d: Deployment
    number: str  # the demo's cancelled filing
    pdf: bytes  # its sealed contract
    index: int  # its filed entry
    before: StoredCheckpoint  # the newest witnessed checkpoint before its cancellation
    latest: StoredCheckpoint  # the newest witnessed checkpoint


@pytest.fixture
def real(deployment: Deployment) -> Demo:
    with deployment.log.engine.connect() as conn:
        number, pdf, index = conn.execute(
            text("SELECT number, sealed_pdf, log_index FROM filings WHERE status = 'CANCELLED'")
        ).one()
    entries = deployment.log.entries(0, deployment.log.size())
    cancel = next(i for i, e in enumerate(entries) if _event(e) == ("cancelled", number))
    witnessed = [c for c in deployment.log.checkpoints() if len(c.cosignatures) >= 2]
    before = [c for c in witnessed if index < c.size <= cancel][-1]
    latest = deployment.latest_witnessed_checkpoint()
    assert latest is not None and latest.size > cancel
    return Demo(deployment, number, bytes(pdf), int(index), before, latest)


def _event(data: bytes) -> tuple[str, str] | None:
    name = status_name(data)
    return None if name is None else (FilingEntry.decode(data).event.value, name)


def test_a_filing_in_force_by_the_log_s_own_status_proof(
    demo: DemoOutput, deployment: Deployment, real: Demo
) -> None:
    cp = real.latest
    old = Checkpoint.parse(_text(demo.receipt.checkpoint)).size
    filing = LoggedEntry.read(demo.receipt.extra or b"").filing
    status = StatusFile.parse(deployment.status_map.status(filing, cp, old_size=old).to_text())
    report = verify(demo.pdf, demo.trust, demo.receipt, status=status)
    assert report.verdict is Verdict.PASSED, report.reason
    f = report.filing
    assert f is not None and f.later_checked and f.checked_by == "status"
    assert f.later_events == () and f.checked_up_to == cp.size
    assert f.checked_at == _opened(cp.cosigned_note, demo.trust).cosigned_at
    assert _check(report, "status")[0] is Indication.PASSED
    assert _check(report, "later-events")[0] is Indication.PASSED
    assert f"in force as of tree size {cp.size} by the log's status proof" in report.reason
    # What it does not show, in either language, with the witnesses' time in Beijing time.
    english, chinese = to_text(report, "en"), to_text(report, "zh")
    assert "Anything logged after that is not seen here" in english and "UTC+8" in english
    assert "wangqian log audit" in english
    reason_zh = chinese.splitlines()[1]
    assert (
        "经日志的状态证明，截至" in reason_zh and f"（日志树大小 {cp.size}）备案仍有效" in reason_zh
    )
    assert "此后记入日志的事件在此看不到" in chinese and "北京时间" in chinese
    assert "Anything logged after" not in chinese and "备案状态证明:" in chinese
    assert "此后记入日志的事件在此看不到" in to_html(report, "zh")
    assert json.loads(to_json(report))["filing"]["checked_by"] == "status"


def test_a_cancellation_and_a_stale_status_say_as_of_which_tree(real: Demo) -> None:
    trust = real.d.verifier_trust()
    receipt = real.d.log.receipt(real.index, real.before)
    # The status as of the receipt's checkpoint, before the cancellation, presented as it is:
    # in force, as of that tree size and no further, which the verdict says.
    stale = real.d.status_map.status(real.number, real.before)
    report = verify(real.pdf, trust, receipt, status=stale)
    assert report.verdict is Verdict.PASSED, report.reason
    assert report.filing is not None and report.filing.checked_up_to == real.before.size
    assert f"in force as of tree size {real.before.size}" in report.reason
    # A newer one, with its consistency proof from the receipt's tree: cancelled.
    fresh = real.d.status_map.status(real.number, real.latest, old_size=real.before.size)
    report = verify(real.pdf, trust, receipt, status=fresh)
    assert report.verdict is Verdict.CANCELLED, report.reason
    assert report.filing is not None and report.filing.checked_up_to == real.latest.size
    [event] = report.filing.later_events
    assert event.event == "cancelled" and event.basis == "agreement"
    assert "by an agreement every party signed" in report.reason
    assert "经各方签署的解除协议注销" in to_text(report, "zh")
    # A receipt on the newest checkpoint and the status on the same: no proof needed.
    receipt = real.d.log.receipt(real.index, real.latest)
    same = real.d.status_map.status(real.number, real.latest)
    assert verify(real.pdf, trust, receipt, status=same).verdict is Verdict.CANCELLED
    # Older than the receipt's checkpoint, it shows nothing the receipt does not.
    report = verify(real.pdf, trust, receipt, status=stale)
    assert report.verdict is Verdict.INDETERMINATE
    assert _check(report, "consistency") == (Indication.INDETERMINATE, "NOT_LATER")


def test_a_status_moved_to_another_checkpoint_or_with_another_entry_fails(real: Demo) -> None:
    trust = real.d.verifier_trust()
    receipt = real.d.log.receipt(real.index, real.latest)
    honest = real.d.status_map.status(real.number, real.latest)
    stale = real.d.status_map.status(real.number, real.before)
    # The stale map proof and entry under the newest checkpoint (which the receipt's is).
    moved = dataclasses.replace(stale, checkpoint=honest.checkpoint)
    # The newest map proof, but the filed entry instead of the cancellation: as a forger would
    # write it (the map leaf follows from the entry line).
    swapped = dataclasses.replace(honest, latest=stale.latest)
    for what, bad in (("moved", moved), ("swapped", swapped)):
        parsed = StatusFile.parse(bad.to_text())
        report = verify(real.pdf, trust, receipt, status=parsed)
        assert report.verdict is Verdict.FAILED, (what, report.reason)
        assert _check(report, "status") == (Indication.FAILED, "STATUS_PROOF_FAILURE"), what
        assert report.filing is not None and report.filing.later_events == ()
    assert "状态证明不成立" in to_text(report, "zh")


def test_a_status_for_another_filing_shows_nothing_about_this_one(
    demo: DemoOutput, real: Demo
) -> None:
    other = real.d.status_map.status(real.number, real.latest, old_size=1)
    report = verify(demo.pdf, demo.trust, demo.receipt, status=other)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "status") == (Indication.INDETERMINATE, "STATUS_OTHER_FILING")
    assert report.filing is not None and report.filing.checked_by is None
    assert report.filing.later_events == ()
    assert "属于另一个备案号" in to_text(report, "zh")


def test_without_a_consistency_proof_the_status_counts_only_with_the_later_checkpoint(
    real: Demo,
) -> None:
    trust = real.d.verifier_trust()
    receipt = real.d.log.receipt(real.index, real.before)
    old, new = real.before.size, real.latest.size
    bare = real.d.status_map.status(real.number, real.latest)  # no 'old' lines
    report = verify(real.pdf, trust, receipt, status=bare)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "consistency") == (Indication.INDETERMINATE, "NO_CONSISTENCY_PROOF")
    assert report.filing is not None and report.filing.later_events == ()
    assert report.filing.checked_up_to == old
    # The later checkpoint of the same tree carries the proof.
    proof = tuple(real.d.log.consistency_proof(old, new))
    later = LaterCheckpoint.parse(AddCheckpoint(old, proof, real.latest.cosigned_note).to_text())
    report = verify(real.pdf, trust, receipt, later=later, status=bare)
    assert report.verdict is Verdict.CANCELLED, report.reason
    # A proof that does not hold between two trees the log signed: a split view.
    wrong = dataclasses.replace(bare, old_size=old, consistency=tuple(reversed(proof)))
    report = verify(real.pdf, trust, receipt, status=StatusFile.parse(wrong.to_text()))
    assert report.verdict is Verdict.FAILED
    assert _check(report, "consistency") == (Indication.FAILED, "SPLIT_VIEW")


# -- logs of our own making: the real log key, a witness the bundle trusts -------------


@dataclasses.dataclass
class Made:
    """A log built from ``entries``, its checkpoints signed with the deployment's real key."""

    d: Deployment
    entries: tuple[bytes, ...]

    @property
    def hashes(self) -> list[bytes]:
        return [leaf_hash(e) for e in self.entries]

    def leaves(self) -> dict[str, MapLeaf]:
        """Each filing's latest event, as the platform's status map holds them."""
        out = {}
        for i, data in enumerate(self.entries):
            name = status_name(data)
            if name is not None:
                out[name] = MapLeaf(key_for(name), i, leaf_hash(data))
        return out

    def note(
        self,
        leaves: dict[str, MapLeaf] | None,
        *witnesses: Signer,
        signer: Signer | None = None,
    ) -> str:
        """A checkpoint of the whole log, committing to the map of ``leaves`` (None: no map)."""
        extensions = ()
        if leaves is not None:
            extensions = (map_line(MemoryMap().update(leaves.values())),)
        cp = Checkpoint(self.d.config.origin, len(self.entries), root_hash(self.hashes), extensions)
        return _cosign(sign_note(cp.to_text(), [signer or self.d.signer]), *witnesses)

    def receipt(self, index: int, note: str) -> Receipt:
        size = len(self.entries)
        proof = tuple(inclusion_proof(self.hashes, index, size))
        return Receipt(index, proof, note, self.entries[index])

    def status(
        self, name: str, note: str, leaves: dict[str, MapLeaf], old: int | None = None
    ) -> StatusFile:
        m = MemoryMap()
        m.update(leaves.values())
        proof = m.prove(key_for(name))
        size = len(self.entries)
        latest = None
        if proof.terminal is not None and proof.terminal.key == key_for(name):
            i = proof.terminal.index
            latest = LatestEvent(i, self.entries[i], tuple(inclusion_proof(self.hashes, i, size)))
        consistency = () if old is None else tuple(consistency_proof(self.hashes, old, size))
        return StatusFile.parse(StatusFile(name, latest, proof, note, old, consistency).to_text())


@dataclasses.dataclass
class Scene:
    trust: TrustBundle
    filed: Made  # the demo's log as it is: its first filing in force
    number: str  # the demo contract's filing
    index: int  # its filed entry


@pytest.fixture
def scene(demo: DemoOutput, deployment: Deployment) -> Scene:
    entries = tuple(deployment.log.entries(0, deployment.log.size()))
    entry = LoggedEntry.read(demo.receipt.extra or b"")
    trust = TrustBundle.from_json(_bundle(demo, [W1], 1))
    return Scene(trust, Made(deployment, entries), entry.filing, demo.receipt.index)


def _later(scene: Scene, event: EntryEvent, doc: str) -> bytes:
    filed = FilingEntry.decode(scene.filed.entries[scene.index])
    basis = CancellationBasis.JUDGMENT if event is EntryEvent.CANCELLED else None
    at = filed.at + dt.timedelta(days=30)
    return dataclasses.replace(
        filed, event=event, ref=scene.index, doc_sha256=doc, at=at, basis=basis
    ).encode()


def test_a_change_and_a_change_agreement_s_own_receipt(demo: DemoOutput, scene: Scene) -> None:
    # The demo's contract stands in for a sealed change agreement: what matters here is the log.
    change = _later(scene, EntryEvent.CHANGED, hashlib.sha256(demo.pdf).hexdigest())
    made = Made(scene.filed.d, (*scene.filed.entries, change))
    changed_at = len(made.entries) - 1
    leaves = made.leaves()
    note = made.note(leaves, W1)
    status = made.status(scene.number, note, leaves)
    report = verify(demo.pdf, scene.trust, made.receipt(scene.index, note), status=status)
    assert report.verdict is Verdict.PASSED, report.reason
    assert report.filing is not None
    assert [(e.index, e.event) for e in report.filing.later_events] == [(changed_at, "changed")]
    assert any("changed later" in n.en for n in report.notes)
    assert any(f"log entry {changed_at} (changed)" in n.en for n in report.notes)
    assert f"日志第 {changed_at} 条（变更）" in to_text(report, "zh")
    # The change agreement's receipt: its filing is the entry it refers to.
    report = verify(demo.pdf, scene.trust, made.receipt(changed_at, note), status=status)
    assert report.verdict is Verdict.PASSED, report.reason
    assert report.reason.startswith(f"a change to filing {scene.number}, log entry {changed_at}")
    assert f"in force as of tree size {len(made.entries)}" in report.reason
    assert report.filing is not None and report.filing.later_events == ()
    # Cancelled later, the filing takes its change with it.
    cancel = _later(scene, EntryEvent.CANCELLED, "ab" * 32)
    ended = Made(made.d, (*made.entries, cancel))
    leaves = ended.leaves()
    note = ended.note(leaves, W1)
    status = ended.status(scene.number, note, leaves, old=len(made.entries))
    receipt = made.receipt(changed_at, made.note(made.leaves(), W1))
    report = verify(demo.pdf, scene.trust, receipt, status=status)
    assert report.verdict is Verdict.CANCELLED, report.reason
    assert "by a judgment or decision" in report.reason


def test_a_map_that_omits_a_cancellation_counts_only_if_witnessed(
    demo: DemoOutput, scene: Scene
) -> None:
    cancel = _later(scene, EntryEvent.CANCELLED, "ab" * 32)
    made = Made(scene.filed.d, (*scene.filed.entries, cancel))
    base = scene.filed
    receipt = base.receipt(scene.index, base.note(None, W1))
    old = len(base.entries)
    honest = made.leaves()
    # The operator's map keeps the filing at its filed entry: the cancellation left out.
    hiding = {**honest, scene.number: base.leaves()[scene.number]}
    forged = made.status(scene.number, made.note(hiding), hiding, old=old)  # log key alone
    report = verify(demo.pdf, scene.trust, receipt, status=forged)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "status") == (Indication.INDETERMINATE, "WITNESS_POLICY")
    assert report.filing is not None and report.filing.checked_by is None
    assert report.filing.checked_up_to == old  # it contributed nothing
    # By a key the bundle does not list, the same.
    impostor = Signer(made.d.config.origin, Ed25519PrivateKey.generate())
    stranger = made.status(scene.number, made.note(hiding, W1, signer=impostor), hiding, old=old)
    report = verify(demo.pdf, scene.trust, receipt, status=stranger)
    assert _check(report, "status") == (Indication.INDETERMINATE, "UNKNOWN_LOG_KEY")
    # The honest map, witnessed: cancelled.
    status = made.status(scene.number, made.note(honest, W1), honest, old=old)
    assert verify(demo.pdf, scene.trust, receipt, status=status).verdict is Verdict.CANCELLED
    # The limit of a status proof: had the witnesses cosigned the dishonest map (they check
    # the tree grows, not the map), it would pass. Replaying the log shows the map is wrong.
    cosigned = made.status(scene.number, made.note(hiding, W1), hiding, old=old)
    assert verify(demo.pdf, scene.trust, receipt, status=cosigned).verdict is Verdict.PASSED
    replayed = MemoryMap().update(made.leaves().values())
    assert replayed != MemoryMap().update(hiding.values())


def test_a_witnessed_map_that_contradicts_the_receipt_fails(demo: DemoOutput, scene: Scene) -> None:
    made = scene.filed
    other = next(n for n in made.leaves() if n != scene.number)
    cases = {
        # The filing has no event at all, though the receipt proves it in this very tree.
        "absent": {n: leaf for n, leaf in made.leaves().items() if n != scene.number},
        # The filing's leaf is another filing's event.
        "another's event": {
            **made.leaves(),
            scene.number: dataclasses.replace(made.leaves()[other], key=key_for(scene.number)),
        },
    }
    for what, leaves in cases.items():
        note = made.note(leaves, W1)
        status = made.status(scene.number, note, leaves)
        report = verify(demo.pdf, scene.trust, made.receipt(scene.index, note), status=status)
        assert report.verdict is Verdict.FAILED, (what, report.reason)
        assert _check(report, "status") == (Indication.FAILED, "STATUS_MAP_INCONSISTENT"), what
    assert "状态表与日志本身矛盾" in to_text(report, "zh")


def test_the_latest_event_must_be_of_the_receipt_s_filing(demo: DemoOutput, scene: Scene) -> None:
    """For a change agreement's receipt, the filing is the entry it refers to."""
    change = _later(scene, EntryEvent.CHANGED, "cd" * 32)
    made = Made(scene.filed.d, (*scene.filed.entries, change))
    changed_at = len(made.entries) - 1
    entry = LoggedEntry.read(change)
    refiled = scene.filed.entries[scene.index]  # the same filing entry, logged again
    again = Made(made.d, (*made.entries, refiled))
    cases = {
        # The map gives the filed entry: older than the change the receipt proves.
        "older": (made, {**made.leaves(), scene.number: scene.filed.leaves()[scene.number]}),
        # A second 'filed' entry of the same number after the change.
        "filed again": (again, again.leaves()),
    }
    for what, (log, leaves) in cases.items():
        note = log.note(leaves, W1)
        status = log.status(scene.number, note, leaves)
        found = check_status(_opened(note, scene.trust), changed_at, entry, status, scene.trust)
        assert found.signed is None, what
        [*_, last] = found.checks
        assert (last.indication, last.sub_indication) == (
            Indication.FAILED,
            "STATUS_MAP_INCONSISTENT",
        ), (what, last)
    # The honest map: the change itself is the latest event.
    note = made.note(made.leaves(), W1)
    status = made.status(scene.number, note, made.leaves())
    found = check_status(_opened(note, scene.trust), changed_at, entry, status, scene.trust)
    assert found.signed is not None and found.events == ()


def test_a_checkpoint_without_a_status_map_shows_nothing(demo: DemoOutput, scene: Scene) -> None:
    made = scene.filed
    leaves = made.leaves()
    status = made.status(scene.number, made.note(leaves, W1), leaves)
    bare = dataclasses.replace(status, checkpoint=made.note(None, W1))
    report = verify(demo.pdf, scene.trust, made.receipt(scene.index, bare.checkpoint), status=bare)
    assert report.verdict is Verdict.INDETERMINATE, report.reason
    assert _check(report, "status") == (Indication.INDETERMINATE, "NO_STATUS_MAP")


# -- the command line and evidence packages ------------------------------------------


def test_the_cli_exit_codes_and_bad_input(demo: DemoOutput, real: Demo, tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(real.d.trust_bundle_json(), encoding="utf-8")
    pdf, receipt = tmp_path / "c.pdf", tmp_path / "c.tlog-proof"
    pdf.write_bytes(real.pdf)
    receipt.write_text(real.d.log.receipt(real.index, real.before).to_text(), encoding="utf-8")
    files = {
        "stale": real.d.status_map.status(real.number, real.before).to_text(),
        "fresh": real.d.status_map.status(
            real.number, real.latest, old_size=real.before.size
        ).to_text(),
        "no-proof": real.d.status_map.status(real.number, real.latest).to_text(),
    }
    stale = StatusFile.parse(files["stale"])
    files["forged"] = dataclasses.replace(
        stale, map_proof=dataclasses.replace(stale.map_proof, siblings=(bytes(31) + b"\x01",))
    ).to_text()
    files["crlf"] = files["stale"].replace("\n", "\r\n")
    files["garbage"] = "wangqian.cn/tlog-status@v1\nfiling\n"
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8", newline="")
    base = [pdf, "--receipt", receipt, "--trust", trust, "--lang", "en"]
    cases = [
        (["--status", tmp_path / "stale"], 0, "Verdict: PASSED"),
        (["--status", tmp_path / "fresh"], 1, "Verdict: CANCELLED"),
        (["--status", tmp_path / "forged"], 1, "Verdict: FAILED"),
        (["--status", tmp_path / "no-proof"], 2, "Verdict: INDETERMINATE"),
        (["--status", tmp_path / "crlf"], 3, ""),
        (["--status", tmp_path / "garbage"], 3, ""),
        (["--status", tmp_path / "missing"], 3, ""),
        (["--status", tmp_path / "stale", "--log-data", tmp_path], 3, "--status or --log-data"),
    ]
    for args, code, said in cases:
        run = _cli(*base, *args)
        assert run.returncode == code, (args, run.stdout, run.stderr)
        if code == 3:
            _assert_one_bad_input_line(run.stderr, str(args))
            assert said in run.stderr
        else:
            assert run.stderr == "" and said in run.stdout, (args, run.stdout, run.stderr)
    with pytest.raises(StatusFileError):
        StatusFile.parse(files["crlf"])


def _members(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_an_evidence_package_carries_the_status_not_the_log(
    demo: DemoOutput, real: Demo, tmp_path: Path
) -> None:
    standing = LoggedEntry.read(demo.receipt.extra or b"").filing
    trust = tmp_path / "trust.json"
    trust.write_text(real.d.trust_bundle_json(), encoding="utf-8")
    for number, code, verdict in ((standing, 0, "PASSED"), (real.number, 1, "CANCELLED")):
        with real.d.log.engine.connect() as conn:
            package = evidence_package(real.d, conn, number)
        assert package is not None
        members = _members(package)
        assert "status.tlog-status" in members and not any(m.startswith("log/") for m in members)
        assert "status.tlog-status" in members["README.txt"].decode()
        read = EvidencePackage.read(package)
        assert read.log_data is None and read.status is not None and read.status.filing == number
        # The status is as of the receipt's own checkpoint.
        receipt = Receipt.parse(read.receipt)
        assert parse_checkpoint(read.status.checkpoint) == parse_checkpoint(receipt.checkpoint)
        path = tmp_path / f"{number}.zip"
        path.write_bytes(package)
        run = _cli(path, "--trust", trust, "--json")
        assert run.returncode == code, run.stdout + run.stderr
        report = json.loads(run.stdout)
        assert report["verdict"] == verdict and report["filing"]["checked_by"] == "status"
    # A status given on the command line takes the package's place.
    stale = tmp_path / "stale.tlog-status"
    stale.write_text(real.d.status_map.status(real.number, real.before).to_text(), "utf-8")
    run = _cli(path, "--trust", trust, "--status", stale, "--json")
    assert run.returncode == 2, run.stdout + run.stderr
    assert json.loads(run.stdout)["verdict"] == "INDETERMINATE"  # older than the receipt


def test_a_package_needs_one_of_status_and_log(demo: DemoOutput, real: Demo) -> None:
    cp = real.latest
    receipt = real.d.log.receipt(demo.receipt.index, cp)
    filing = LoggedEntry.read(demo.receipt.extra or b"").filing
    status = real.d.status_map.status(filing, cp).to_text().encode()
    trust_json = real.d.trust_bundle_json()
    neither = _package(demo.pdf, receipt, trust_json)
    with pytest.raises(PackageUnreadable, match=r"no status\.tlog-status"):
        EvidencePackage.read(neither)
    both = _add(_package(demo.pdf, receipt, trust_json, (real.d, cp)), status)
    with pytest.raises(PackageUnreadable, match="both"):
        EvidencePackage.read(both)
    broken = _add(neither, status.replace(b"\n", b"\r\n"))
    with pytest.raises(PackageUnreadable):
        EvidencePackage.read(broken)
    # A package made before status proofs, with log/, is read as before.
    old = EvidencePackage.read(_package(demo.pdf, receipt, trust_json, (real.d, cp)))
    assert old.status is None and old.log_data is not None
    assert verify(old.pdf, real.d.verifier_trust(), receipt, log_data=old.log_data).verdict is (
        Verdict.PASSED
    )
    parsed = StatusFile.parse(status.decode())
    with pytest.raises(ValueError, match="not both"):
        verify(demo.pdf, demo.trust, receipt, log_data=old.log_data, status=parsed)


def _add(package: bytes, status: bytes) -> bytes:
    buffer = io.BytesIO(package)
    with zipfile.ZipFile(buffer, "a") as z:
        z.writestr("status.tlog-status", status)
    return buffer.getvalue()


def _text(note: str) -> str:
    return note.rpartition("\n\n")[0] + "\n"


def _opened(note: str, trust: TrustBundle) -> SignedCheckpoint:
    signed = open_checkpoint(note, trust)
    assert isinstance(signed, SignedCheckpoint), signed
    return signed
