"""``wangqian demo``: the main job on the embedded default, checked end to end.

It renders a sample presale contract in Chinese, has the developer seal it (key
on the PKCS#11 token if configured, else in the encrypted key files), has the
buyer sign through the remote path (the buyer's key never reaches the server),
applies the platform's filing seal at B-LTA, validates every signature, logs the
document's SHA-256, and verifies the receipt with the offline verifier's code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

from filing.deployment import Deployment
from filing.seals import FILING_SEAL_NAME, PlatformPki
from keys.authority import pem
from keys.identity import RegistryIdentityCheck, issue_party_certificate
from keys.pki import Profile, new_key
from ledger.merkle import verify_consistency
from signing import pades, remote
from signing.fonts import truetype_font
from signing.render import render
from signing.sample import sample_contract
from signing.seal import seal_image
from signing.validation import validate_document
from verifier.receipt import verify_receipt
from verifier.trust import TrustBundle

DEVELOPER_SEAL = "seal-demo-developer"


class DemoFailed(Exception):
    """The demo's own output did not verify."""


def sample_identity_check(directory: Path) -> RegistryIdentityCheck:
    """The identity extract the authority would load, holding the sample buyers."""
    extract = directory / "identity-extract.json"
    if not extract.exists():
        directory.mkdir(parents=True, exist_ok=True)
        people = {p.id_number: p.name for p in sample_contract(buyers=2).buyers}
        extract.write_text(json.dumps(people, ensure_ascii=False, indent=1), encoding="utf-8")
    return RegistryIdentityCheck(extract)


def sign_sample_contract(pki: PlatformPki, number: str, cache: Path) -> bytes:
    """Seller's seal (B-T), buyer's remote signature (B-T), then the filing seal (B-LTA)."""
    contract = sample_contract(number)
    identity_check = sample_identity_check(cache)
    draft = render(contract)
    font = truetype_font()
    ts = pki.timestamper()
    seller = contract.seller.name
    with pki.seal_signer(DEVELOPER_SEAL, seller, Profile.ENTERPRISE_SEAL) as signer:
        stamp = pades.Stamp(font, seal_image(seller, "合同专用章", font, cache), "出卖人", seller)
        pdf = pades.sign(draft.pdf, "seller", signer, pades.Level.B_T, timestamper=ts, stamp=stamp)

    buyer = contract.buyers[0]
    device_key = new_key()  # lives on the buyer's phone; only its public half is certified
    identity = identity_check.verify(buyer.name, buyer.id_type, buyer.id_number)
    buyer_cert = issue_party_certificate(pki.ca, identity, device_key.public_key())
    request = remote.prepare(
        pdf, "buyer-1", buyer_cert, [pki.ca.issuing], pades.Stamp(font, None, "买受人", buyer.name)
    )
    pdf = remote.finish(request, remote.device_sign(device_key, request.digest_to_sign), ts)

    seller_cert = pki.seal_certificate(DEVELOPER_SEAL, seller, Profile.ENTERPRISE_SEAL)
    seal_cert = pki.filing_seal_certificate()
    revocation = pki.revocation([seller_cert, buyer_cert, seal_cert])
    reports = validate_document(pdf, revocation)
    if len(reports) != 2 or not all(r.ok for r in reports):
        raise DemoFailed(f"party signatures do not validate: {[r.summary for r in reports]}")
    pdf = pades.add_validation_data(pdf, revocation)
    with pki.filing_seal() as signer:
        stamp = pades.Stamp(
            font, seal_image("网签备案平台", "备案专用章", font, cache), "备案", FILING_SEAL_NAME
        )
        pdf = pades.sign(
            pdf,
            "filing-seal",
            signer,
            pades.Level.B_LTA,
            timestamper=ts,
            revocation=revocation,
            stamp=stamp,
        )
    reports = validate_document(pdf, revocation)
    if [r.field for r in reports] != ["seller", "buyer-1", "filing-seal"] or not all(
        r.ok for r in reports
    ):
        raise DemoFailed(f"sealed contract does not validate: {[r.summary for r in reports]}")
    return pdf


def run_demo(data_dir: Path, out_dir: Path, entries: int = 8) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    deployment = Deployment.open(data_dir)
    lines: list[str] = []
    try:
        log = deployment.log
        pki = deployment.pki
        previous = log.latest_checkpoint()
        number = f"CS{dt.date.today().year}-{log.appended() + 1:06d}"
        started = time.perf_counter()
        pdf = sign_sample_contract(pki, number, deployment.data_dir / "cache")
        (out_dir / "contract.pdf").write_bytes(pdf)
        (out_dir / "root-ca.pem").write_bytes(pem(pki.ca.root))
        digest = hashlib.sha256(pdf).hexdigest()
        lines.append(
            f"contract {number}: sealed by seller, buyer (remote) and platform (B-LTA) "
            f"in {time.perf_counter() - started:.1f}s; sha256 {digest}"
        )

        # Until the filing issue defines the canonical filing entry, the log entry is
        # the document's hash and contract number: nothing personal.
        entry = json.dumps(
            {
                "v": 0,
                "event": "demo-sealed",
                "contract": number,
                "sha256": digest,
                "at": int(time.time()),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        filler = [
            json.dumps({"v": 0, "event": "demo", "seq": i}, separators=(",", ":")).encode()
            for i in range(max(0, entries - 1))
        ]
        indices = log.append_many([*filler, entry])
        checkpoint = deployment.sequencer().step()
        if checkpoint is None:
            raise DemoFailed("the sequencer issued no checkpoint for new entries")
        lines.append(f"appended entries {indices[0]}..{indices[-1]}; tree size {checkpoint.size}")

        trust_json = json.dumps(deployment.trust_bundle(), indent=2, ensure_ascii=False) + "\n"
        (out_dir / "trust-bundle.json").write_text(trust_json, encoding="utf-8")
        (out_dir / "checkpoint").write_text(checkpoint.cosigned_note, encoding="utf-8")
        receipt = log.receipt(indices[-1], checkpoint)
        (out_dir / "contract.pdf.tlog-proof").write_text(receipt.to_text(), encoding="utf-8")
        verified = verify_receipt(receipt, TrustBundle.from_json(trust_json), entry)
        lines.append(
            "receipt contract.pdf.tlog-proof verifies against checkpoint "
            f"{verified.checkpoint.size}"
        )
        if previous is not None and previous.size > 0:
            proof = log.consistency_proof(previous.size, checkpoint.size)
            verify_consistency(
                previous.size, checkpoint.size, proof, previous.root, checkpoint.root
            )
            lines.append(f"checkpoint {checkpoint.size} is consistent with {previous.size}")
        lines.append(f"log key: {deployment.log_verifier.vkey}")
        lines.append(
            f"wrote {out_dir}: contract.pdf, contract.pdf.tlog-proof, "
            "trust-bundle.json, root-ca.pem"
        )
    finally:
        deployment.close()
    return lines
