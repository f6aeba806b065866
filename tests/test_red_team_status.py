"""Red team: the status map, status proofs and the "still in force?" answers, attacked.

Written from the documents (README, docs/formats.md "Checkpoints", "Status map", "Status
proofs", docs/verifier.md, docs/api.md, docs/operations.md) against the real code paths:
the HTTP API over a demo deployment, the offline verifier (in process and as the CLI),
the sequencer and the witness. Tests named ``test_finding_*`` demonstrate a gap between
what the documents promise and what the code does (they fail until it is fixed); the
others pin down attacks that were correctly refused.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import subprocess
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app, filing_service
from filing import access_log as access_anchor
from filing.api_keys import create_key
from filing.deployment import Deployment
from filing.entry import FilingEntry, status_name
from filing.policy import Role
from ledger.add_checkpoint import AddCheckpoint
from ledger.checkpoint import Checkpoint
from ledger.merkle import leaf_hash
from ledger.note import ALG_COSIGNATURE_V1, Signer, Verifier, sign_note
from ledger.receipt import Receipt
from ledger.sequencer import Sequencer, WitnessEndpoint
from ledger.status_file import LatestEvent, StatusFile, StatusFileError, parse_checkpoint
from ledger.status_map import Inner, MapLeaf, MemoryMap, key_for, map_line
from ledger.witness import Witness, WitnessError
from tests.helpers import BIN, DemoOutput, run_demo, start_witnesses, stop
from verifier.cli import main as verify_main
from verifier.models import Indication, Verdict
from verifier.verify import verify

PROBLEM = "application/problem+json"
PROBLEMS = "https://wangqian.example/problems/"


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture
def deployment(demo: DemoOutput) -> Iterator[Deployment]:
    d = Deployment.open(demo.data)
    yield d
    d.close()


@pytest.fixture
def client(deployment: Deployment) -> Iterator[TestClient]:
    with TestClient(create_app(deployment), raise_server_exceptions=False) as c:
        yield c


@dataclasses.dataclass
class Private:
    out: DemoOutput
    witnesses: list[subprocess.Popen[str]]

    @property
    def data(self) -> Path:
        return self.out.data

    def stop_witnesses(self) -> None:
        for proc in self.witnesses:
            stop(proc)


@pytest.fixture
def private_demo(tmp_path: Path) -> Iterator[Private]:
    """A demo of its own, witnesses running: for attacks that change the deployment."""
    output = run_demo(tmp_path)
    private = Private(output, start_witnesses(output.data))
    try:
        yield private
    finally:
        private.stop_witnesses()


@dataclasses.dataclass
class Cancelled:
    number: str
    pdf: bytes
    index: int  # its filed entry


def _cancelled(d: Deployment) -> Cancelled:
    with d.log.engine.connect() as conn:
        number, pdf, index = conn.execute(
            text("SELECT number, sealed_pdf, log_index FROM filings WHERE status = 'CANCELLED'")
        ).one()
    return Cancelled(str(number), bytes(pdf), int(index))


def _problem(r: object, status: int, kind: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith(PROBLEM), r.headers  # type: ignore[attr-defined]
    assert r.json()["type"] == PROBLEMS + kind, r.text[:300]  # type: ignore[attr-defined]


def _receipt_with_entry(demo: DemoOutput, entry: bytes) -> str:
    """The demo's receipt with another entry in its (unauthenticated) ``extra`` line."""
    return Receipt(demo.receipt.index, demo.receipt.proof, demo.receipt.checkpoint, entry).to_text()


def _post_verification(client: TestClient, pdf: bytes, receipt: str | None) -> object:
    body = {"pdf": base64.b64encode(pdf).decode(), "receipt": receipt, "lang": "en"}
    return client.post("/v1/verification", json=body)


# == Findings ===========================================================================


# -- F1/F2: POST /v1/verification answers 500 to a receipt naming an odd filing -----------
#
# docs/api.md: every error is RFC 9457 problem+json with a stable type; "internal-error" is
# for "anything unforeseen". The page now builds a status proof for the filing the
# (unauthenticated) receipt entry names, before the receipt is verified; an entry whose
# filing is a lone surrogate, or whose ref is 1e999, makes that code raise outside the
# errors it catches.


def test_finding_verification_receipt_naming_a_surrogate_filing_is_not_a_500(
    demo: DemoOutput, client: TestClient
) -> None:
    extra = json.loads(demo.receipt.extra or b"")
    # JSON's "\ud800": valid JSON, a str Python cannot encode as UTF-8 (key_for fails).
    entry = json.dumps({**extra, "filing": "\ud800"}).encode()
    r = _post_verification(client, demo.pdf, _receipt_with_entry(demo, entry))
    assert r.status_code != 500, r.text  # type: ignore[attr-defined]
    # Expected: the verifier's report (the inclusion proof fails) or a 422 bad-receipt.
    assert r.status_code in (200, 422), r.text  # type: ignore[attr-defined]


def test_finding_verification_receipt_with_an_overflowing_ref_is_not_a_500(
    demo: DemoOutput, client: TestClient
) -> None:
    extra = json.loads(demo.receipt.extra or b"")
    entry = (
        json.dumps({**extra, "event": "changed", "ref": 0}).replace('"ref": 0', '"ref": 1e999')
    ).encode()
    r = _post_verification(client, demo.pdf, _receipt_with_entry(demo, entry))
    assert r.status_code != 500, r.text  # type: ignore[attr-defined]
    assert r.status_code in (200, 422), r.text  # type: ignore[attr-defined]


# -- F3: a dishonest map is caught by nobody ----------------------------------------------
#
# docs/formats.md "Status map": "Whether the map was computed honestly from the entries is
# checked by replaying the log (`wangqian log audit`, `wangqian-verify --audit-map`)";
# docs/verifier.md: "An operator who left a cancellation out of the map, and had that
# checkpoint cosigned, would be caught by anyone who replays the log and recomputes the map
# (`wangqian log audit`, `wangqian-verify --audit-map`)"; docs/operations.md: run the audit
# "after any manual work on the database".
#
# An operator with database access inserts rows into log_map_nodes (append-only, but it
# takes inserts) under the version of the next checkpoint, holding the cancelled filing at
# its filed entry. The next entry (any entry: here a padding one, in practice an access-log
# or history anchor) makes the sequencer commit to that map, the real witnesses cosign it,
# GET /log/status serves "in force" for the cancelled filing, wangqian-verify --status
# passes it — and both audits pass.


def _honest_leaves(entries: list[bytes]) -> dict[str, MapLeaf]:
    out = {}
    for i, data in enumerate(entries):
        name = status_name(data)
        if name is not None:
            out[name] = MapLeaf(key_for(name), i, leaf_hash(data))
    return out


def _insert_map_rows(d: Deployment, leaves: dict[str, MapLeaf], version: int) -> None:
    m = MemoryMap()
    m.update(leaves.values())
    rows = []
    for (depth, prefix), node in m._nodes.items():
        leaf = node.encode() if isinstance(node, MapLeaf) else None
        assert isinstance(node, MapLeaf | Inner)
        rows.append({"d": depth, "p": prefix, "v": version, "h": node.hash, "l": leaf})
    with d.log.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO log_map_nodes (depth, prefix, version, hash, leaf) "
                "VALUES (:d, :p, :v, :h, :l)"
            ),
            rows,
        )


def _access_log_anchor(d: Deployment, number: str) -> None:
    """A court reads a filing's evidence (an access-log row); the access log is anchored
    in the filing log (``wangqian admin anchor-access-log``): one new, ordinary entry."""
    with d.log.engine.begin() as conn:
        key = create_key(conn, "court.example", Role.COURT)
    with TestClient(create_app(d), raise_server_exceptions=False) as client:
        r = client.get(
            f"/v1/court/filings/{number}/evidence", headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 200, r.text[:300]
    done = access_anchor.anchor(filing_service(d).engine, d.log)
    assert done is not None


def test_finding_a_map_that_hides_a_cancellation_passes_both_audits(
    private_demo: Private,
) -> None:
    data = private_demo.data
    d = Deployment.open(data)
    try:
        c = _cancelled(d)
        size = d.log.size()
        entries = d.log.entries(0, size)
        honest = _honest_leaves(entries)
        assert honest[c.number].index != c.index  # the map holds its cancellation
        lying = {
            **honest,
            c.number: MapLeaf(key_for(c.number), c.index, leaf_hash(entries[c.index])),
        }
        # The operator's rows, under the version the next checkpoint will have.
        assert d.status_map.version() == size
        _insert_map_rows(d, lying, size + 1)
        # The next entry: a routine access-log anchor after a court fetched evidence.
        _access_log_anchor(d, c.number)
        cp = d.sequencer().step()
        assert cp is not None and cp.size == size + 1
        witnessed = d.latest_witnessed_checkpoint()
        assert witnessed is not None and witnessed.size == size + 1, "both witnesses cosigned"
        receipt = d.log.receipt(c.index, witnessed)
        # The served status proof of the cancelled filing says "in force".
        with TestClient(create_app(d), raise_server_exceptions=False) as client:
            r = client.get(f"/log/status/{c.number}")
        assert r.status_code == 200
        status = StatusFile.parse(r.text)
        assert status.latest is not None and status.latest.index == c.index
        report = verify(c.pdf, d.verifier_trust(), receipt, status=status)
        # (The documented limit of a status proof: it passes.)
        assert report.verdict is Verdict.PASSED, report.reason
    finally:
        d.close()
    # What the documents promise catches it: replaying the log.
    log_audit = subprocess.run(
        [str(BIN / "wangqian"), "log", "audit", "--data", str(data)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    full_audit = subprocess.run(
        [str(BIN / "wangqian"), "audit", "--data", str(data)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert log_audit.returncode == 1 or full_audit.returncode == 1, (
        "the status map no longer follows the log (the cancellation of "
        f"{c.number} is left out of the checkpoint {size + 1}'s map), yet "
        f"`wangqian log audit` said: {log_audit.stdout.strip()!r} and "
        f"`wangqian audit` said: {full_audit.stdout.strip()[-200:]!r}"
    )


# -- F4: wangqian-verify --audit-map does not exist ---------------------------------------


def test_finding_wangqian_verify_offers_the_documented_audit_map(
    demo: DemoOutput, tmp_path: Path
) -> None:
    """docs/formats.md and docs/verifier.md send whoever doubts the map to
    `wangqian-verify --audit-map`; the CLI does not know the option."""
    help_text = subprocess.run(
        [str(BIN / "wangqian-verify"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "--audit-map" in help_text, help_text


# -- F5: the public /verify page passes a cancelled filing when it has no status proof ----
#
# docs/verifier.md "The pages": POST /v1/verification "runs exactly these checks with the
# deployment's own trust bundle and current log data"; the page now decides "still in
# force?" with a status proof. docs/api.md acknowledges a state where there is none
# (`no-status-map`: "the latest witnessed checkpoint predates the status map"). In that
# state the page neither scans the log (it did, for a document with a receipt, before) nor
# says INDETERMINATE: a cancelled filing is PASSED (exit code 0), with only a note that the
# status was not checked. Here the state is made as a process of the previous release would
# (a sequencer without a status map, e.g. during a rolling upgrade), cosigned by the real
# witnesses, which then go out of reach: until they are back, the tree cannot be signed again
# with its map line (when they are reachable the sequencer does so within a step, which
# only narrows the window).


def test_finding_verify_page_does_not_pass_a_cancelled_filing_without_a_status_proof(
    private_demo: Private,
) -> None:
    d = Deployment.open(private_demo.data)
    try:
        c = _cancelled(d)
        _access_log_anchor(d, c.number)
        endpoints = [WitnessEndpoint(Verifier.from_vkey(w.vkey), w.url) for w in d.config.witnesses]
        old_release = Sequencer(
            d.log, d.signers, d.config.origin, endpoints, d.config.witness_threshold
        )
        try:
            cp = old_release.step()
        finally:
            old_release.close()
        assert cp is not None and "wangqian.cn/status-map" not in cp.note
        latest = d.latest_witnessed_checkpoint()
        assert latest is not None and latest.size == cp.size
        # The witnesses are out of reach for a while (a network change, a maintenance
        # window): the sequencer cannot have the tree signed again with its map line.
        private_demo.stop_witnesses()
        with TestClient(create_app(d), raise_server_exceptions=False) as client:
            _problem(client.get(f"/log/status/{c.number}"), 404, "no-status-map")
            found = _post_verification(client, c.pdf, None)  # the page finds the receipt
            given = _post_verification(client, c.pdf, d.log.receipt(c.index, latest).to_text())
    finally:
        d.close()
    verdicts = {}
    for what, r in (("found by hash", found), ("receipt given", given)):
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        report = r.json()  # type: ignore[attr-defined]
        verdicts[what] = (report["verdict"], report["report"]["reason"])
    assert all(v != "PASSED" for v, _ in verdicts.values()), (
        f"the public page passes cancelled filing {c.number}: {verdicts}"
    )


# -- F6: a witness cosigns any number of map roots for tree size 0 -------------------------
#
# docs/formats.md: witnesses "cosign at most one checkpoint text with extension lines per
# tree size". For size 0 the rule is skipped (``known_size == checkpoint.size != 0``): a
# log key holder gets one witness to cosign size-0 checkpoints committing to two different
# status map roots.

WITNESS = Signer("red.example/witness", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)


@pytest.fixture
def witness(deployment: Deployment, tmp_path: Path) -> Iterator[Witness]:
    w = Witness.open(WITNESS, deployment.log_verifiers(), f"sqlite:///{tmp_path / 'w.db'}")
    yield w
    w.close()


def _signed(d: Deployment, size: int, root: bytes, *extensions: str) -> str:
    cp = Checkpoint(d.config.origin, size, root, tuple(extensions))
    return sign_note(cp.to_text(), [d.signer])


def test_finding_a_witness_cosigns_one_map_root_for_size_zero_too(
    deployment: Deployment, witness: Witness
) -> None:
    empty = deployment.log.root_hash(0)
    a = _signed(deployment, 0, empty, map_line(bytes(32)))
    b = _signed(deployment, 0, empty, map_line(b"\x11" * 32))
    witness.add_checkpoint(AddCheckpoint(0, (), a).to_text())
    with pytest.raises(WitnessError) as refused:
        witness.add_checkpoint(AddCheckpoint(0, (), b).to_text())
    assert refused.value.status == 409


# == Attacks that held ====================================================================


# -- GET /log/status with odd names and sizes ----------------------------------------------


@pytest.mark.parametrize(
    "path, status, kind",
    [
        ("/log/status/%E7%BD%91%E7%AD%BE", 422, "invalid-request"),  # unicode
        ("/log/status/CS%00", 404, "not-found"),  # NUL: no path holds a control character
        ("/log/status/CS%0A2026", 404, "not-found"),  # LF
        ("/log/status/CS%0D%0Ax", 404, "not-found"),  # CRLF
        ("/log/status/CS%7F", 404, "not-found"),  # DEL
        ("/log/status/CS%20X", 422, "invalid-request"),  # space
        ("/log/status/" + "A" * 65, 422, "invalid-request"),
        ("/log/status/" + "A" * 8000, 422, "invalid-request"),  # huge
        ("/log/status/%C0%AE", 422, "invalid-request"),  # overlong UTF-8
        ("/log/status/%FF", 422, "invalid-request"),  # not UTF-8
        ("/log/status/CS%2F1", 404, "not-found"),
        ("/log/status/", 404, "not-found"),
        ("/log/status/CS-2026-000001?old=0", 422, "invalid-request"),
        ("/log/status/CS-2026-000001?old=-1", 422, "invalid-request"),
        ("/log/status/CS-2026-000001?old=" + "9" * 40, 422, "invalid-request"),
        ("/log/status/CS-2026-000001?old=4611686018427387904", 404, "size-out-of-range"),
        ("/log/status/CS-2026-000001?old=abc", 422, "invalid-request"),
        ("/log/status/CS-2026-000001?old=%EF%BC%91", 422, "invalid-request"),  # fullwidth 1
        ("/log/status/CS-2026-000001?old=1e3", 422, "invalid-request"),
        ("/log/status/CS-2026-000001?old=", 422, "invalid-request"),
    ],
)
def test_status_endpoint_refuses_odd_input_with_problems(
    client: TestClient, path: str, status: int | None, kind: str | None
) -> None:
    r = client.get(path)
    assert r.status_code < 500, (path[:80], r.status_code, r.text[:200])
    if status is not None and kind is not None:
        _problem(r, status, kind)


def test_status_endpoint_old_beyond_the_tree_and_names_the_map_lacks(
    client: TestClient, deployment: Deployment
) -> None:
    cp = deployment.latest_witnessed_checkpoint()
    assert cp is not None
    _problem(client.get(f"/log/status/CS-2026-000001?old={cp.size + 1}"), 404, "size-out-of-range")
    # A filing the map does not hold: a proof of absence, checked against the checkpoint.
    for name in ("CS-2026-999999", "...", "%25", "x" * 64, "CS-2026-000001 "[:-1] + "~"):
        r = client.get(f"/log/status/{name}")
        assert r.status_code == 200, (name, r.text[:200])
        found = StatusFile.parse(r.text)
        assert found.latest is None
        assert found.check(parse_checkpoint(found.checkpoint)) is None


def test_status_files_and_endpoint_carry_no_personal_data(
    client: TestClient, deployment: Deployment
) -> None:
    with deployment.log.engine.connect() as conn:
        people = conn.execute(text("SELECT id_number, name FROM dept_identities")).all()
        numbers = [str(n) for (n,) in conn.execute(text("SELECT number FROM filings"))]
    secrets = [str(v) for row in people for v in row if v]
    assert secrets and numbers
    for number in numbers:
        body = client.get(f"/log/status/{number}?old=1").text
        status = StatusFile.parse(body)
        shown = body + (status.latest.entry.decode() if status.latest else "")
        for secret in secrets:
            assert secret not in shown, (number, secret)


# -- wangqian-verify with malformed .tlog-status files: exit 3, one line ------------------


def _flip_spare_bits(line: str) -> str:
    """A 32-byte hash in base64 ends in a character carrying 2 spare bits: set one."""
    word, value = line.split(" ", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(value[-2]) ^ 1]
    flipped = value[:-2] + last + value[-1]
    assert base64.b64decode(flipped) == base64.b64decode(value)  # same bytes, other text
    return f"{word} {flipped}"


def _mutations(good: str) -> dict[str, str]:
    head, _, note = good.partition("\n\n")
    lines = head.split("\n")
    map_at = next(i for i, ln in enumerate(lines) if ln.startswith("map "))
    log_at = next(i for i, ln in enumerate(lines) if ln.startswith("log "))

    def with_lines(new: list[str]) -> str:
        return "\n".join(new) + "\n\n" + note

    entry_i = next(i for i, ln in enumerate(lines) if ln.startswith("entry "))
    idx, data = lines[entry_i][len("entry ") :].split(" ", 1)
    return {
        "crlf": good.replace("\n", "\r\n"),
        "bom": "\ufeff" + good,
        "trailing space": with_lines([lines[0] + " ", *lines[1:]]),
        "duplicated filing line": with_lines([lines[0], lines[1], *lines[1:]]),
        "duplicated entry line": with_lines(
            [*lines[: entry_i + 1], lines[entry_i], *lines[entry_i + 1 :]]
        ),
        "257 map lines": with_lines(
            [*lines[:map_at], *(["map " + "A" * 43 + "="] * 257), *lines[map_at + 1 :]]
        ),
        "'-' in a log line": with_lines([*lines[:log_at], "log -", *lines[log_at + 1 :]]),
        "zero hash spelled out in map": with_lines(
            [*lines[:map_at], "map " + "A" * 43 + "=", *lines[map_at:]]
        ),
        "extra padding on the entry": with_lines(
            [*lines[:entry_i], f"entry {idx} {data}=", *lines[entry_i + 1 :]]
        ),
        "non-zero spare bits in a map hash": with_lines(
            [*lines[:map_at], _flip_spare_bits(lines[map_at]), *lines[map_at + 1 :]]
        ),
        "urlsafe base64 entry": with_lines(
            [
                *lines[:entry_i],
                f"entry {idx} {data.replace('/', '_').replace('+', '-')}x",
                *lines[entry_i + 1 :],
            ]
        ),
        "leading zero index": with_lines(
            [*lines[:entry_i], f"entry 0{idx} {data}", *lines[entry_i + 1 :]]
        ),
        "plus sign index": with_lines(
            [*lines[:entry_i], f"entry +{idx} {data}", *lines[entry_i + 1 :]]
        ),
        "arabic-indic index": with_lines(
            [*lines[:entry_i], f"entry \u0660 {data}", *lines[entry_i + 1 :]]
        ),
        "two spaces": with_lines([*lines[:entry_i], f"entry {idx}  {data}", *lines[entry_i + 1 :]]),
        "absent and entry": with_lines([*lines[:entry_i], "absent", *lines[entry_i:]]),
        "other after entry": with_lines(
            [*lines[: map_at + 1], "other " + "A" * 96, *lines[map_at + 1 :]]
        ),
        "old without number": with_lines([*lines, "old"]),
        "old twice": with_lines([*lines, "old 1", "old 1"]),
        "old -1": with_lines([*lines, "old -1"]),
        "old huge": with_lines([*lines, "old " + "9" * 5000]),
        "64 consistency lines": with_lines(
            [*lines, "old 1", *(["consistency " + "B" * 43 + "="] * 64)]
        ),
        "unknown line": with_lines([*lines, "note hello"]),
        "filing with unicode": with_lines([lines[0], "filing 网签", *lines[2:]]),
        "filing too long": with_lines([lines[0], "filing " + "A" * 65, *lines[2:]]),
        "no header": with_lines(lines[1:]),
        "other header": with_lines(["wangqian.cn/tlog-status@v2", *lines[1:]]),
        "no checkpoint": head + "\n\n",
        "no blank line": head + "\n" + note,
        "nul byte": good.replace("\n\n", "\n\x00\n", 1),
        "huge": good + "A" * (2 * 1024 * 1024),
        "empty": "",
        "not utf-8": "",  # written as bytes below
    }


def test_malformed_status_files_are_one_line_of_bad_input(
    demo: DemoOutput, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = (demo.out / "contract.pdf.tlog-status").read_text(encoding="utf-8")
    StatusFile.parse(good)
    receipt = demo.out / "contract.pdf.tlog-proof"
    trust = demo.out / "trust-bundle.json"
    for i, (what, body) in enumerate(_mutations(good).items()):
        path = tmp_path / f"{i}.tlog-status"
        if what == "not utf-8":
            path.write_bytes(good.encode()[:40] + b"\xff\xfe" + good.encode()[40:])
        else:
            path.write_bytes(body.encode("utf-8"))
        code = verify_main(
            [str(demo.out / "contract.pdf"), "--receipt", str(receipt), "--trust", str(trust),
             "--status", str(path), "--lang", "en"]
        )  # fmt: skip
        out = capsys.readouterr()
        assert code == 3, (what, code, out.out[:300])
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bad input: "), (what, out.err[:300])
        assert "Traceback" not in out.err and "verifier could not process" not in out.err, (
            what,
            out.err,
        )


def test_a_non_compact_map_proof_is_a_failed_proof(
    demo: DemoOutput, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'-' is allowed in map lines, but not last (docs/formats.md: a proof whose last
    sibling is empty is refused): FAILED, STATUS_PROOF_FAILURE."""
    good = (demo.out / "contract.pdf.tlog-status").read_text(encoding="utf-8")
    head, _, note = good.partition("\n\n")
    lines = head.split("\n")
    last_map = max(i for i, ln in enumerate(lines) if ln.startswith("map "))
    path = tmp_path / "dash.tlog-status"
    path.write_text(
        "\n".join([*lines[: last_map + 1], "map -", *lines[last_map + 1 :]]) + "\n\n" + note
    )
    code = verify_main(
        [str(demo.out / "contract.pdf"), "--receipt", str(demo.out / "contract.pdf.tlog-proof"),
         "--trust", str(demo.out / "trust-bundle.json"), "--status", str(path), "--json"]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["verdict"] == "FAILED"
    status = next(c for c in report["checks"] if c["name"] == "status")
    assert status["sub_indication"] == "STATUS_PROOF_FAILURE"


def test_a_malformed_status_file_through_the_real_cli_is_one_line(
    demo: DemoOutput, tmp_path: Path
) -> None:
    good = (demo.out / "contract.pdf.tlog-status").read_text(encoding="utf-8")
    path = tmp_path / "crlf.tlog-status"
    path.write_bytes(good.replace("\n", "\r\n").encode())
    run = subprocess.run(
        [str(BIN / "wangqian-verify"), str(demo.out / "contract.pdf"),
         "--receipt", str(demo.out / "contract.pdf.tlog-proof"),
         "--trust", str(demo.out / "trust-bundle.json"), "--status", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 3 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


# -- a developer who had the filing cancelled ---------------------------------------------


def test_the_cancelled_filing_s_served_status_is_cancelled_whatever_old_it_asks(
    client: TestClient, deployment: Deployment
) -> None:
    c = _cancelled(deployment)
    cp = deployment.latest_witnessed_checkpoint()
    assert cp is not None
    trust = deployment.verifier_trust()
    for old in range(c.index + 1, cp.size + 1):
        earlier = [
            x for x in deployment.log.checkpoints() if x.size == old and len(x.cosignatures) >= 2
        ]
        if not earlier:
            continue
        receipt = deployment.log.receipt(c.index, earlier[-1])
        status = StatusFile.parse(client.get(f"/log/status/{c.number}?old={old}").text)
        report = verify(c.pdf, trust, receipt, status=status)
        assert report.verdict is Verdict.CANCELLED, (old, report.reason)


def test_the_public_page_says_cancelled_for_the_cancelled_filing(
    client: TestClient, deployment: Deployment
) -> None:
    c = _cancelled(deployment)
    cp = deployment.latest_witnessed_checkpoint()
    assert cp is not None
    # Its receipt from before the cancellation, or none at all: the page answers "now".
    before = next(
        x for x in deployment.log.checkpoints()
        if c.index < x.size and len(x.cosignatures) >= 2
    )  # fmt: skip
    for receipt in (None, deployment.log.receipt(c.index, before).to_text()):
        r = _post_verification(client, c.pdf, receipt)
        assert r.status_code == 200 and r.json()["verdict"] == "CANCELLED", r.text[:300]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _twice(package: bytes, second: bytes) -> bytes:
    buffer = io.BytesIO(package)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as z:
            z.writestr("status.tlog-status", second)
    return buffer.getvalue()


def test_evidence_packages_with_crafted_status_members_do_not_pass_a_cancelled_filing(
    deployment: Deployment, demo: DemoOutput, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = _cancelled(deployment)
    latest = deployment.latest_witnessed_checkpoint()
    assert latest is not None
    before = next(
        x for x in deployment.log.checkpoints()
        if c.index < x.size and len(x.cosignatures) >= 2
    )  # fmt: skip
    other = json.loads(demo.receipt.extra or b"")["filing"]
    trust = deployment.trust_bundle_json().encode()
    base = {
        "contract.pdf": c.pdf,
        "contract.pdf.tlog-proof": deployment.log.receipt(c.index, latest).to_text().encode(),
        "trust-bundle.json": trust,
        "history.json": b"[]",
        "README.txt": b"",
    }
    stale = deployment.status_map.status(c.number, before).to_text().encode()
    another = deployment.status_map.status(other, latest).to_text().encode()
    honest = deployment.status_map.status(c.number, latest).to_text().encode()
    cases = {
        # A status from before the cancellation beside the newest receipt: older, proves nothing.
        "stale status": (_zip({**base, "status.tlog-status": stale}), 2),
        # The other (in force) filing's status: shows nothing about this one.
        "another filing's status": (_zip({**base, "status.tlog-status": another}), 2),
        # The stale receipt and the stale status together: in force as of then, and says so.
        "stale pair": (
            _zip(
                {
                    **base,
                    "contract.pdf.tlog-proof": deployment.log.receipt(c.index, before)
                    .to_text()
                    .encode(),
                    "status.tlog-status": stale,
                }
            ),
            0,
        ),
        "honest": (_zip({**base, "status.tlog-status": honest}), 1),
        # Two members named status.tlog-status: which one counts? Neither: bad input.
        "status twice": (_twice(_zip({**base, "status.tlog-status": honest}), stale), 3),
    }
    bundle = tmp_path / "trust-bundle.json"
    bundle.write_bytes(trust)
    for what, (package, expected) in cases.items():
        path = tmp_path / f"{what.replace(' ', '-')}.zip"
        path.write_bytes(package)
        code = verify_main([str(path), "--trust", str(bundle), "--json"])
        out = capsys.readouterr()
        assert code == expected, (what, code, out.err[:300])
        if what == "stale pair":
            report = json.loads(out.out)
            assert report["filing"]["checked_up_to"] == before.size
            assert f"in force as of tree size {before.size}" in report["reason"]


def test_a_map_line_signed_by_the_log_key_alone_or_twice_proves_nothing(
    deployment: Deployment, demo: DemoOutput
) -> None:
    """A forged status checkpoint at the demo's own tree size: the real log key, the real
    tree, a map that keeps the cancelled filing in force, no witness. And a checkpoint
    with two map lines (the honest one and a forged one), cosigned by nobody."""
    c = _cancelled(deployment)
    latest = deployment.latest_witnessed_checkpoint()
    assert latest is not None
    entries = deployment.log.entries(0, latest.size)
    leaves = _honest_leaves(entries)
    lying = {**leaves, c.number: MapLeaf(key_for(c.number), c.index, leaf_hash(entries[c.index]))}
    m = MemoryMap()
    m.update(lying.values())
    honest_root = Checkpoint.parse(
        latest.cosigned_note[: latest.cosigned_note.index("\n\n") + 1]
    ).extensions
    receipt = deployment.log.receipt(c.index, latest)
    trust = deployment.verifier_trust()
    for extensions in ((map_line(m.root),), (*honest_root, map_line(m.root))):
        note = _signed(deployment, latest.size, latest.root, *extensions)
        proof = m.prove(key_for(c.number))
        latest_event = LatestEvent(
            c.index, entries[c.index], tuple(deployment.log.inclusion_proof(c.index, latest.size))
        )
        try:
            status = StatusFile.parse(StatusFile(c.number, latest_event, proof, note).to_text())
        except StatusFileError:
            continue  # refused as input: fine
        report = verify(c.pdf, trust, receipt, status=status)
        assert report.verdict is not Verdict.PASSED, report.reason
        assert report.verdict is not Verdict.CANCELLED or extensions == ()
        indication = next(ch for ch in report.checks if ch.name == "status").indication
        assert indication is not Indication.PASSED


# -- the witnesses: one map root per tree size --------------------------------------------


def test_a_witness_refuses_a_second_map_root_or_dropping_it_for_a_tree(
    deployment: Deployment, witness: Witness
) -> None:
    size = deployment.log.size()
    root = deployment.log.root_hash(size)
    bare = _signed(deployment, size, root)
    a = _signed(deployment, size, root, map_line(b"\x01" * 32))
    b = _signed(deployment, size, root, map_line(b"\x02" * 32))
    a_plus = _signed(deployment, size, root, map_line(b"\x01" * 32), "example.org/other x")
    witness.add_checkpoint(AddCheckpoint(0, (), bare).to_text())
    witness.add_checkpoint(AddCheckpoint(size, (), a).to_text())  # the move to a map, once
    witness.add_checkpoint(AddCheckpoint(size, (), a).to_text())  # the same text again: fine
    for what, note in (("another root", b), ("no map line", bare), ("an added line", a_plus)):
        with pytest.raises(WitnessError) as refused:
            witness.add_checkpoint(AddCheckpoint(size, (), note).to_text())
        assert refused.value.status == 409, what


def test_a_witness_cannot_be_taken_back_to_cosign_another_map_for_an_older_tree(
    deployment: Deployment, witness: Witness
) -> None:
    size = deployment.log.size()
    assert size >= 2
    small = size - 1
    a_small = _signed(deployment, small, deployment.log.root_hash(small), map_line(b"\x01" * 32))
    b_small = _signed(deployment, small, deployment.log.root_hash(small), map_line(b"\x02" * 32))
    big = _signed(deployment, size, deployment.log.root_hash(size), map_line(b"\x03" * 32))
    witness.add_checkpoint(AddCheckpoint(0, (), a_small).to_text())
    proof = tuple(deployment.log.consistency_proof(small, size))
    witness.add_checkpoint(AddCheckpoint(small, proof, big).to_text())
    for old in (0, small, size):
        with pytest.raises(WitnessError) as refused:
            witness.add_checkpoint(AddCheckpoint(old, (), b_small).to_text())
        assert refused.value.status in (400, 409), old


def test_status_file_parsing_is_strict_about_the_entry_the_map_leaf_follows(
    demo: DemoOutput,
) -> None:
    """An 'other' leaf after an entry, or an 'absent' proof ending in this filing's own
    leaf: refused as input or as proof, never read as in force."""
    good = StatusFile.parse((demo.out / "contract.pdf.tlog-status").read_text(encoding="utf-8"))
    assert good.latest is not None
    own = MapLeaf(good.key, good.latest.index, leaf_hash(good.latest.entry))
    absent_but_own = dataclasses.replace(
        good, latest=None, map_proof=dataclasses.replace(good.map_proof, terminal=own)
    )
    parsed = StatusFile.parse(absent_but_own.to_text())
    with pytest.raises(StatusFileError):
        parsed.check(parse_checkpoint(parsed.checkpoint))
    # The entry of another filing under this filing's name: its leaf is not in the map.
    other_entry = FilingEntry.decode(good.latest.entry)
    forged = dataclasses.replace(other_entry, filing="CS-2026-000002").encode()
    swapped = dataclasses.replace(good, latest=dataclasses.replace(good.latest, entry=forged))
    parsed = StatusFile.parse(swapped.to_text())
    with pytest.raises(StatusFileError):
        parsed.check(parse_checkpoint(parsed.checkpoint))
