"""``wangqian demo``: the whole story on the embedded default, through the HTTP API.

It starts two witnesses (each its own ``wangqian witness`` process, with its own key
and store, on loopback ports) and requires both to cosign every checkpoint; serves
the API on a loopback port (with its sequencer); and then, as the
authority, a developer and buyers would: loads a sample project (2 buildings,
120 units, a presale permit, department extracts) on first run, drafts a
contract, applies the developer's seal, has the buyer sign on their "phone" with
the signing invitation the draft's answer carries (no API key for the buyer; a key
that never leaves this function's scope signs the signed attributes, as /sign's
WebCrypto key does), and gets the filing and its receipt; then files a second
contract the same way and cancels it (the buyer signs the cancellation agreement
with an API key: agreements have no invitations). It writes the filed contract,
its receipt, the trust bundle (log key, both witness keys, threshold 2) and the root
certificate, and exits 0 only if the receipt verifies offline, cosigned by both
witnesses, and its entry names exactly this document.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from api import demo_lease, demo_resale
from api.app import create_app
from filing import maintenance
from filing.deployment import Deployment, WitnessConfig
from filing.invitation_delivery import invitation_in, take_messages
from filing.platform import Platform
from filing.policy import Role
from keys.authority import pem
from keys.pki import new_key
from keys.private_files import private_directory
from keys.store import PASSPHRASE_ENV, passphrase_for
from ledger.receipt import Receipt, checkpoint_size
from ledger.status_file import StatusFile
from signing import remote
from signing.sample import sample_contract
from verifier import fund_statement
from verifier.models import Verdict
from verifier.reports import kind_name, verdict_words
from verifier.signatures import SignedDocument
from verifier.trust import TrustBundle
from verifier.verify import verify

DEVELOPER_ID = "91430100MA4L000000"
DISTRICT_CODE = "430104"


class DemoFailed(Exception):
    """The demo's own output did not verify."""


def sample_inventory() -> str:
    """2 buildings × 20 floors × 3 units of a fictional project in 岳麓区, as a CSV."""
    lines = [
        "project,district,address,developer,developer_id,building,code,floor,room,use,"
        "forecast_building,forecast_inner,forecast_shared"
    ]
    seller = sample_contract().seller
    for building in (1, 2):
        for floor in range(1, 21):
            for room, area in ((1, ("118.56", "96.30", "22.26")), (2, ("89.20", "72.45", "16.75")),
                               (3, ("143.88", "116.90", "26.98"))):  # fmt: skip
                code = f"{DISTRICT_CODE}001001GB00001F{building:04d}{floor:02d}{room:02d}"
                lines.append(
                    f"湘江示范花园,岳麓区,长沙市岳麓区示范路 1 号,{seller.name},{DEVELOPER_ID},"
                    f"{building} 栋,{code},{floor},{floor}{room:02d},住宅,{','.join(area)}"
                )
    return "\n".join(lines) + "\n"


class _Server:
    """The app on a free loopback port, in a thread, for the length of the demo."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise DemoFailed("the API server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# The demo's witnesses, as a city would place them at independent institutions.
WITNESSES = (
    ("court", "court.changsha.example/witness"),
    ("notary", "notary.changsha.example/witness"),
)


class _Witnesses:
    """Two ``wangqian witness`` processes, each with its own key and store, on loopback.

    Their directories are ``DATA/witnesses/<slug>`` (kept between runs, as a witness's
    state must be: one restarted empty would cosign a rewritten history), their output
    goes to ``witness.log`` there. They outlive the API server, whose clean stop asks
    them to cosign its last checkpoint.
    """

    def __init__(self, data_dir: Path, log_vkeys: list[str]) -> None:
        self.data_dir = data_dir
        self.log_vkeys = log_vkeys
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> list[WitnessConfig]:
        started = []
        try:
            for slug, name in WITNESSES:
                directory = private_directory(self.data_dir / "witnesses" / slug)
                port = _free_port()
                with open(directory / "witness.log", "ab") as out:
                    proc = subprocess.Popen(
                        [
                            *(sys.executable, "-m", "api.cli", "witness"),
                            # The demo runs on development passphrases, and says so.
                            "--insecure-dev-passphrase",
                            *("--data", str(directory), "--port", str(port), "--name", name),
                            *(arg for vkey in self.log_vkeys for arg in ("--trust-log", vkey)),
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                self.procs.append(proc)
                started.append((directory, proc, f"http://127.0.0.1:{port}"))
            return [WitnessConfig(_witness_vkey(*s), s[2]) for s in started]
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _witness_vkey(directory: Path, proc: subprocess.Popen[bytes], url: str) -> str:
    """The witness's vkey, from the witness itself once it answers."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (directory / "witness.log").read_text(errors="replace")[-500:]
            raise DemoFailed(f"the witness in {directory} exited: {tail}")
        try:
            r = httpx.get(url + "/vkey", timeout=1.0)
            if r.status_code == 200:
                return r.text.strip()
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise DemoFailed(f"the witness in {directory} did not answer at {url}")


class _Client:
    def __init__(self, base: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        self.n = 0

    def post(self, path: str, expect: int, **kw: Any) -> Any:
        self.n += 1
        headers = {"Idempotency-Key": f"demo-{time.time_ns()}-{self.n}", **kw.pop("headers", {})}
        r = self.http.post(path, headers=headers, **kw)
        if r.status_code != expect:
            raise DemoFailed(f"POST {path} answered {r.status_code}: {r.text[:500]}")
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    def exists(self, path: str) -> bool:
        return self.http.get(path).status_code == 200

    def get(self, path: str, **kw: Any) -> httpx.Response:
        r = self.http.get(path, **kw)
        if r.status_code != 200:
            raise DemoFailed(f"GET {path} answered {r.status_code}: {r.text[:500]}")
        return r


def _keys(deployment: Deployment, buyers: list[str]) -> dict[str, str]:
    platform = Platform(deployment)
    keys = {
        "authority": platform.create_key("长沙市住房和城乡建设局", Role.AUTHORITY),
        "developer": platform.create_key(DEVELOPER_ID, Role.DEVELOPER),
    }
    for id_number in buyers:  # the second buyer's, for the cancellation agreement
        keys[id_number] = platform.create_key(id_number, Role.BUYER)
    for _, id_number in demo_resale.people():
        keys[id_number] = platform.create_key(id_number, Role.BUYER)  # a person (个人)
    keys["bank"] = platform.create_key(demo_resale.BANK, Role.BANK)
    return keys


def _load_departments(authority: _Client) -> None:
    """The departments' extracts for everyone the demo names (each load replaces a table,
    so every run loads them whole: the new-home buyers and the resale's people)."""
    buyers = [(b.name, b.id_number) for b in sample_contract(buyers=2).buyers]
    resale_buyer = demo_resale.RESALE_BUYER
    csv_type = {"content-type": "text/csv"}
    authority.post(
        "/v1/departments/households", 201, headers=csv_type,
        content=("id_number,local,spouse,minor_children\n"
                 + "".join(f"{i},1,,\n" for _, i in [*buyers, resale_buyer])).encode(),
    )  # fmt: skip
    people = [*buyers, *demo_resale.people()]
    authority.post(
        "/v1/departments/identities", 201, headers=csv_type,
        content=("id_number,name,phone\n"
                 + "".join(f"{i},{n},{_phone(i)}\n" for n, i in people)).encode(),
    )  # fmt: skip


def _phone(id_number: str) -> str:
    """A demo person's mobile number of record (fictional: 138 0000 and four digits)."""
    return f"1380000{int(hashlib.sha256(id_number.encode()).hexdigest(), 16) % 10000:04d}"


def _load_sample_project(authority: _Client, developer: _Client) -> int:
    units = authority.get("/v1/units", params={"limit": 1}).json()
    if units:
        return 0
    csv_type = {"content-type": "text/csv"}
    imported = authority.post(
        "/v1/registry/import", 201, content=sample_inventory().encode(), headers=csv_type
    )
    codes = [line.split(",")[6] for line in sample_inventory().splitlines()[1:]]
    authority.post(
        "/v1/registry/permits", 201,
        json={"number": "长住建预许字（2026）第 0088 号", "authority": "长沙市住房和城乡建设局",
              "valid_from": "2026-01-01", "units": codes},
    )  # fmt: skip
    for code in codes:
        developer.post(f"/v1/units/{code}/release", 200)
    return int(imported["imported"])


def _file_one(
    developer: _Client, base: str, outgoing: Path, code: str, number: str, buyer_index: int
) -> dict[str, Any]:
    sample = sample_contract(number, buyers=2)
    b = sample.buyers[buyer_index]
    draft = developer.post(
        "/v1/contracts", 201,
        json={"unit_code": code, "number": number,
              "buyers": [{"name": b.name, "id_number": b.id_number}],
              "price": "1422720.00", "payment_method": "LOAN", "down_payment": "430000.00",
              "loan_bank": "示范银行长沙分行", "escrow_bank": sample.escrow.bank,
              "escrow_account_name": sample.escrow.account_name,
              "escrow_account_number": sample.escrow.account_number,
              "delivery_date": sample.delivery_date.isoformat(),
              "dispute_body": sample.dispute_body},
    )  # fmt: skip
    developer.post(f"/v1/contracts/{draft['id']}/seal", 200)
    # The developer learns only that the invitation went to the buyer's phone of record;
    # the demo plays the SMS gateway and the phone, which reads the link from the message.
    [invitation] = draft["invitations"]
    if not invitation["sent"]:
        raise DemoFailed("the buyer's invitation was not sent: no phone of record")
    texts = [m.text for m in take_messages(outgoing, _phone(b.id_number))]
    links = [invitation_in(t) for t in texts if draft["id"] in t]
    if not links:
        raise DemoFailed(f"no invitation for {draft['id']} reached the buyer's phone")
    _, field, token = links[-1]
    return _sign_with_invitation(base, draft["id"], field, token, b.name, b.id_number)


def _sign_with_invitation(
    base: str, contract_id: str, field: str, token: str, name: str, id_number: str
) -> dict[str, Any]:
    """What /sign does on the buyer's phone: the identity check, a P-256 key of its own,
    an ECDSA-SHA256 signature (r || s) over the signed attributes; the token only in the
    ``X-Invitation`` header."""
    path = f"/v1/invitations/{contract_id}/{field}"
    with httpx.Client(base_url=base, headers={"X-Invitation": token}, timeout=60) as phone:

        def post(step: str, expect: int, body: dict[str, str]) -> Any:
            r = phone.post(path + step, json=body)
            if r.status_code != expect:
                raise DemoFailed(f"POST {path}{step} answered {r.status_code}: {r.text[:500]}")
            return r.json()

        post("/identity", 200, {"name": name, "id_number": id_number})
        phone_key = new_key()  # the buyer's phone: the private key stays here
        public = (
            phone_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        start = post("/start", 200, {"public_key_pem": public})
        attrs = base64.b64decode(start["signed_attributes"])
        r, s = utils.decode_dss_signature(phone_key.sign(attrs, ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        done: dict[str, Any] = post("/finish", 201, {"signature": base64.b64encode(raw).decode()})
    return done


def _sign_by_both(
    developer: _Client, buyer: _Client, contract_id: str, name: str, id_number: str
) -> dict[str, Any]:
    """The developer's seal, then the buyer on the phone: the last signature completes it."""
    developer.post(f"/v1/contracts/{contract_id}/seal", 200)
    phone_key = new_key()  # the buyer's phone: the private key stays here
    public = (
        phone_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    start = buyer.post(
        f"/v1/contracts/{contract_id}/remote-signing/buyer-1/start", 200,
        json={"public_key_pem": public, "name": name, "id_number": id_number},
    )  # fmt: skip
    signature = remote.device_sign(phone_key, base64.b64decode(start["digest_to_sign"]))
    done: dict[str, Any] = buyer.post(
        f"/v1/contracts/{contract_id}/remote-signing/buyer-1/finish", 201,
        json={"signature": base64.b64encode(signature).decode()},
    )  # fmt: skip
    return done


def run_demo(data_dir: Path, out_dir: Path) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with Deployment.open(data_dir) as deployment:
        key_dir = deployment.data_dir / "keys"
        if passphrase_for(key_dir).development:
            lines.append(
                f"keys: the development passphrase in {key_dir / 'passphrase'}, as with "
                f"--insecure-dev-passphrase (set {PASSPHRASE_ENV} for anything real)"
            )
        log_vkeys = [s.verifier.vkey for s in deployment.signers]
        with _Witnesses(deployment.data_dir, log_vkeys) as witnesses:
            # Every checkpoint needs both cosignatures: the receipts are witnessed, and so is
            # any truncation of the log's tail refused.
            deployment.save_config(
                dataclasses.replace(
                    deployment.config, witnesses=tuple(witnesses), witness_threshold=2
                )
            )
            lines.append(
                f"witnesses: {' and '.join(w.vkey.split('+')[0] for w in witnesses)}, each its "
                "own process with its own key and store (loopback "
                f"{', '.join(w.url.rsplit(':', 1)[1] for w in witnesses)}); policy 2 of 2"
            )
            # 住宅专项维修资金: the demo adopts the example rule set, its bank designated.
            maintenance.adopt_example(deployment.data_dir, demo_resale.BANK)
            pdf, filed, resale_pdf, resale, upkeep, lease_pdf, lease = _run_story(deployment, lines)
        trust_json = deployment.trust_bundle_json()
        (out_dir / "root-ca.pem").write_bytes(pem(deployment.pki.ca.root))
        status = _status(deployment, filed)
        resale_status = _status(deployment, resale)
        lease_status = _status(deployment, lease)

    (out_dir / "contract.pdf").write_bytes(pdf)
    (out_dir / "contract.pdf.tlog-proof").write_text(filed["receipt"], encoding="utf-8")
    (out_dir / "trust-bundle.json").write_text(trust_json, encoding="utf-8")
    (out_dir / "contract.pdf.tlog-status").write_text(status.to_text(), encoding="utf-8")

    trust = TrustBundle.from_json(trust_json)
    report = verify(pdf, trust, Receipt.parse(filed["receipt"]), status=status, funds=upkeep)
    if report.verdict is not Verdict.PASSED or report.filing is None:
        raise DemoFailed(f"the filed contract does not verify: {report.reason}")
    proven = [n.zh for n in report.notes if n.zh.startswith("维修资金记录已证明")]
    if len(proven) != len(upkeep):
        raise DemoFailed("the maintenance-fund deposit does not verify offline")
    if report.filing.checked_by != "status":
        raise DemoFailed(f"the status proof did not decide the status: {report.reason}")
    lines.append(
        f"verifies offline ({verdict_words(report.verdict, 'zh')}): {report.filing.filing}, "
        f"{len(report.signatures)} signatures, document sha256 {report.document_sha256[:16]}…, "
        f"log entry {report.filing.index} of {report.filing.tree_size}, cosigned by "
        f"{' and '.join(report.filing.cosigners)}"
    )
    lines.append(
        f"in force as of tree size {report.filing.checked_up_to} by its status proof "
        f"({len(status.to_text())} bytes: the map and log paths, the cosigned checkpoint)"
    )
    lines += [f"and its maintenance-fund deposit: {p}" for p in proven]
    # The resale verifies offline too: a 存量房买卖, in force and registered (转移登记).
    (out_dir / "resale.pdf").write_bytes(resale_pdf)
    (out_dir / "resale.pdf.tlog-proof").write_text(resale["receipt"], encoding="utf-8")
    (out_dir / "resale.pdf.tlog-status").write_text(resale_status.to_text(), encoding="utf-8")
    sold = verify(resale_pdf, trust, Receipt.parse(resale["receipt"]), status=resale_status)
    if sold.verdict is not Verdict.PASSED or sold.filing is None or sold.filing.kind != "resale":
        raise DemoFailed(f"the resale does not verify as one: {sold.reason}")
    lines.append(
        f"the resale verifies offline ({verdict_words(sold.verdict, 'zh')}): "
        f"{kind_name(sold.filing.kind, 'zh')} {sold.filing.filing}, "
        f"{len(sold.signatures)} signatures; its status proof shows the registration"
    )
    # The lease verifies offline as 房屋租赁; its 租赁登记备案证明 carries the platform's seal.
    (out_dir / "lease.pdf").write_bytes(lease_pdf)
    (out_dir / "lease.pdf.tlog-proof").write_text(lease["receipt"], encoding="utf-8")
    (out_dir / "lease.pdf.tlog-status").write_text(lease_status.to_text(), encoding="utf-8")
    (out_dir / "lease-certificate.pdf").write_bytes(lease["certificate"])
    leased = verify(lease_pdf, trust, Receipt.parse(lease["receipt"]), status=lease_status)
    if (
        leased.verdict is not Verdict.PASSED
        or leased.filing is None
        or leased.filing.kind != "lease"
    ):
        raise DemoFailed(f"the lease does not verify as one: {leased.reason}")
    sealed = SignedDocument(lease["certificate"]).assess(trust, complete=False)
    if not sealed.passed:
        raise DemoFailed(f"the 租赁登记备案证明's seal does not verify: {sealed.problems()}")
    lines.append(
        f"the lease verifies offline ({verdict_words(leased.verdict, 'zh')}): "
        f"{kind_name(leased.filing.kind, 'zh')} {leased.filing.filing}, "
        f"{len(leased.signatures)} signatures; its 租赁登记备案证明's filing seal verifies too"
    )
    lines.append(
        f"wrote {out_dir}: contract.pdf, contract.pdf.tlog-proof, contract.pdf.tlog-status, "
        "resale.pdf and lease.pdf (each with its .tlog-proof and .tlog-status), "
        "lease-certificate.pdf, "
        "trust-bundle.json (log key, both witness keys, threshold 2), root-ca.pem"
    )
    return lines


def _status(deployment: Deployment, filed: dict[str, Any]) -> StatusFile:
    """The filing's status proof as of the newest witnessed checkpoint (the server's clean
    stop issued it), with the consistency proof from its receipt's tree."""
    checkpoint = deployment.latest_witnessed_checkpoint()
    if checkpoint is None:
        raise DemoFailed("no witnessed checkpoint to prove the filing's status with")
    old = checkpoint_size(Receipt.parse(filed["receipt"]).checkpoint)
    return deployment.status_map.status(str(filed["filing"]), checkpoint, old_size=old)


def _run_story(
    deployment: Deployment, lines: list[str]
) -> tuple[
    bytes,
    dict[str, Any],
    bytes,
    dict[str, Any],
    tuple[tuple[bytes, str], ...],
    bytes,
    dict[str, Any],
]:
    """The API served with its sequencer; the authority, developer, buyers and bank at work.

    Returns the filed contract and the filing's answer (with its receipt), the same of
    the resale, and the first filing's maintenance-fund deposit as evidence (its statement
    with signature and certificates, and its receipt).
    """
    buyers = [b.id_number for b in sample_contract(buyers=2).buyers]
    app = create_app(deployment)
    keys = _keys(deployment, buyers[1:])
    outgoing = deployment.courier.outgoing
    with _Server(app) as base:
        authority, developer = (
            _Client(base, keys["authority"]),
            _Client(base, keys["developer"]),
        )
        buyer_b = _Client(base, keys[buyers[1]])
        imported = _load_sample_project(authority, developer)
        _load_departments(authority)
        if imported:
            lines.append(
                f"loaded the sample project: {imported} units in 2 buildings, "
                "a presale permit and department extracts"
            )
        available = authority.get("/v1/units", params={"status": "AVAILABLE", "limit": 2}).json()
        if len(available) < 2:
            raise DemoFailed("the sample project has no units left to sell")
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
        started = time.perf_counter()
        filed = _file_one(developer, base, outgoing, available[0]["code"], f"HT-{stamp}-1", 0)
        if not filed.get("receipt"):
            raise DemoFailed("the filing came back without a receipt")
        lines.append(
            f"filed {filed['filing']} for unit {available[0]['code']} in "
            f"{time.perf_counter() - started:.1f}s (draft, developer seal, buyer on the phone, "
            f"platform seal B-LTA, log index {filed['log_index']})"
        )
        pdf = developer.get(f"/v1/filings/{filed['filing']}/document").content
        upkeep = _deposit_maintenance(
            deployment, authority, _Client(base, keys["bank"]), filed, available[0]["code"], lines
        )

        second = _file_one(developer, base, outgoing, available[1]["code"], f"HT-{stamp}-2", 1)
        # 注销 by consent: neither party can cancel alone; both sign the agreement.
        agreement = developer.post(
            f"/v1/filings/{second['filing']}/cancellation-agreements", 201,
            json={"reason": "双方协商解除"},
        )  # fmt: skip
        b = sample_contract(buyers=2).buyers[1]
        cancelled = _sign_by_both(developer, buyer_b, agreement["id"], b.name, b.id_number)
        if cancelled.get("event") != "cancelled":
            raise DemoFailed(f"the cancellation agreement did not cancel: {cancelled}")
        lines.append(
            f"filed {second['filing']} and cancelled it by an agreement both parties signed "
            f"({agreement['number']}, log index {cancelled['log_index']})"
        )
        # 存量房买卖: an existing home of two co-owners resold, with supervised funds.
        resale = demo_resale.run_resale(
            authority,
            lambda id_number: _Client(base, keys[id_number]),
            _Client(base, keys["bank"]),
            stamp,
            lambda code: authority.exists(f"/v1/units/{code}"),
        )
        events = [e["label"] for e in resale["account"]["events"]]
        lines.append(
            f"resold unit {resale['unit']} (存量房买卖) as {resale['filing']}: both co-owners, the "
            f"buyer on their phones; {'、'.join(events)} by the bank around the 转移登记 "
            f"(log index {resale['registered']['log_index']}); "
            f"balance {resale['account']['balance_yuan']} 元"
        )
        resale_pdf = developer_or_authority_document(authority, str(resale["filing"]))
        # 租赁备案: an existing home leased by both owners; its 租赁登记备案证明 is sealed.
        lease = demo_lease.run_lease(
            authority,
            lambda id_number: _Client(base, keys[id_number]),
            stamp,
            lambda code: authority.exists(f"/v1/units/{code}"),
        )
        lines.append(
            f"leased unit {lease['unit']} (房屋租赁) as {lease['filing']}: both owners and the "
            f"lessee on their phones, log index {lease['log_index']}; the unit stays "
            f"REGISTERED, its lease status {lease['leases']['leases'][0]['status']}, and its "
            f"租赁登记备案证明 is sealed ({len(lease['certificate'])} bytes)"
        )
        lease_pdf = developer_or_authority_document(authority, str(lease["filing"]))
        # serve anchors the histories every minute; the demo does not wait for it. The
        # server's clean stop checkpoints the anchors, cosigned.
        anchored = Platform(deployment).anchor_histories()
        if anchored:
            lines.append(
                "anchored the unit and filing histories in the log (log index "
                f"{', '.join(str(a.log_index) for a in anchored)})"
            )
    return pdf, filed, resale_pdf, resale, upkeep, lease_pdf, lease


def _deposit_maintenance(
    deployment: Deployment,
    authority: _Client,
    bank: _Client,
    filed: dict[str, Any],
    code: str,
    lines: list[str],
) -> tuple[tuple[bytes, str], ...]:
    """The buyer's maintenance fund (住宅专项维修资金), due by the rule set in force when the
    contract was filed, deposited at the designated bank, which confirms it signed."""
    number = str(filed["filing"])
    dues = authority.get(f"/v1/units/{code}/maintenance").json()["dues"]
    if not dues:
        return ()  # a deployment whose own rules file designates no rule set in force
    due = int(dues[-1]["due_fen"])
    signer = demo_resale.BankSigner.over_api(bank)
    body = signer.signed("maintenance-deposit", number, due, account=code)
    done = bank.post(f"/v1/filings/{number}/maintenance/deposits", 201, json=body)
    if not done.get("receipt"):
        raise DemoFailed("the maintenance-fund deposit came back without a receipt")
    lines.append(
        f"maintenance fund (住宅专项维修资金) of {number}: {dues[-1]['basis']} = "
        f"{dues[-1]['due_yuan']} 元, deposited and signed by {demo_resale.BANK} "
        f"(log index {done['log_index']}); the registration may proceed"
    )
    statement = base64.b64decode(body["statement"])
    signature = base64.b64decode(body["signature"])
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    chain = [certificate, deployment.pki.ca.issuing]
    member = fund_statement.evidence_member(statement, signature, chain)
    return ((member, str(done["receipt"])),)


def developer_or_authority_document(authority: _Client, number: str) -> bytes:
    """The sealed contract as filed (the authority reads every filing's)."""
    return bytes(authority.get(f"/v1/filings/{number}/document").content)
