"""``wangqian demo``: the main job on the embedded default, checked end to end.

For now it exercises the ledger: append entries, integrate, sign a checkpoint,
write a receipt, and verify the receipt (and consistency with the previous
checkpoint) with the offline verifier's code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from filing.deployment import Deployment
from ledger.merkle import verify_consistency
from verifier.receipt import verify_receipt
from verifier.trust import TrustBundle


class DemoFailed(Exception):
    """The demo's own output did not verify."""


def run_demo(data_dir: Path, out_dir: Path, entries: int = 8) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    deployment = Deployment.open(data_dir)
    lines: list[str] = []
    try:
        log = deployment.log
        previous = log.latest_checkpoint()
        first = log.appended()
        batch = [
            json.dumps(
                {"v": 1, "event": "demo", "seq": first + i, "at": int(time.time())},
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
            for i in range(entries)
        ]
        indices = log.append_many(batch)
        checkpoint = deployment.sequencer().step()
        if checkpoint is None:
            raise DemoFailed("the sequencer issued no checkpoint for new entries")
        lines.append(f"appended entries {indices[0]}..{indices[-1]}; tree size {checkpoint.size}")

        trust_json = json.dumps(deployment.trust_bundle(), indent=2, ensure_ascii=False) + "\n"
        (out_dir / "trust-bundle.json").write_text(trust_json, encoding="utf-8")
        (out_dir / "checkpoint").write_text(checkpoint.cosigned_note, encoding="utf-8")
        receipt = log.receipt(indices[-1], checkpoint)
        receipt_path = out_dir / f"entry-{indices[-1]}.tlog-proof"
        receipt_path.write_text(receipt.to_text(), encoding="utf-8")

        verified = verify_receipt(receipt, TrustBundle.from_json(trust_json), batch[-1])
        lines.append(
            f"receipt {receipt_path.name} verifies against checkpoint {verified.checkpoint.size}"
        )
        if previous is not None and previous.size > 0:
            proof = log.consistency_proof(previous.size, checkpoint.size)
            verify_consistency(
                previous.size, checkpoint.size, proof, previous.root, checkpoint.root
            )
            lines.append(f"checkpoint {checkpoint.size} is consistent with {previous.size}")
        lines.append(f"log key: {deployment.log_verifier.vkey}")
        lines.append(f"wrote {out_dir}")
    finally:
        deployment.close()
    return lines
