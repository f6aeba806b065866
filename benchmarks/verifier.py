"""Verifier benchmark: full verification of the demo's contract beside pyHanko's validation alone.

    python benchmarks/verifier.py [--runs 15] [--no-write]

Runs ``wangqian demo`` once into a temporary directory, then times, in one process:

* wangqian: ``verifier.verify.verify`` — read the PDF, ETSI AdES (LTA) validation of the
  three signatures, filing seal, document hash, receipt (log key, witnesses, inclusion);
* baseline: pyHanko's ``ades_lta_validation`` of the same three signatures with the same
  trust roots and no fetching, with its default difference analysis — the signature
  validation alone;
* for reference, pyHanko's classic ``async_validate_pdf_signature`` with the DSS's data;

the two command lines as whole processes (start-up included), and the worst inputs the
verifier's limits allow (verifier/document.py): a contract with every signature field it
may have signed, and one with the most objects and revisions. Rewrites the "Verifier"
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asn1crypto.ocsp import OCSPResponse  # noqa: E402
from asn1crypto.x509 import Certificate  # noqa: E402
from pyhanko.pdf_utils import generic  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY  # noqa: E402
from pyhanko.sign.validation import ades, async_validate_pdf_signature  # noqa: E402
from pyhanko.sign.validation.dss import DocumentSecurityStore  # noqa: E402

from api.demo import run_demo  # noqa: E402
from benchmarks.report import write_section  # noqa: E402
from keys.pki import Profile, name, new_key  # noqa: E402
from keys.signers import key_signer  # noqa: E402
from ledger.receipt import Receipt  # noqa: E402
from signing import pades  # noqa: E402
from signing.contract import Party  # noqa: E402
from signing.render import render  # noqa: E402
from signing.sample import sample_contract  # noqa: E402
from verifier.document import MAX_OBJECTS, MAX_REVISIONS, MAX_SIGNATURE_FIELDS  # noqa: E402
from verifier.models import Verdict  # noqa: E402
from verifier.signatures import assess, validation_spec  # noqa: E402
from verifier.trust import TrustBundle  # noqa: E402
from verifier.verify import verify  # noqa: E402


def interleaved(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median seconds of each, run in turn so that drift on a busy machine hits all alike."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(b) for b in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.getLogger("pyhanko").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        run_demo(Path(tmp) / "data", out)
        pdf = (out / "contract.pdf").read_bytes()
        receipt = Receipt.parse((out / "contract.pdf.tlog-proof").read_text(encoding="utf-8"))
        trust = TrustBundle.from_json((out / "trust-bundle.json").read_text(encoding="utf-8"))
        # pyHanko's own validation: its default difference analysis for every signature.
        spec = dataclasses.replace(validation_spec(trust), diff_policy=DEFAULT_DIFF_POLICY)

        def ours() -> None:
            report = verify(pdf, trust, receipt)
            assert report.verdict is Verdict.PASSED, report.reason

        def ades_alone() -> None:
            reader = PdfFileReader(BytesIO(pdf), strict=False)

            async def run() -> None:
                for sig in reader.embedded_regular_signatures:
                    result = await ades.ades_lta_validation(sig, spec)
                    assert result.ades_subindic.status.name == "PASSED"

            asyncio.run(run())

        def classic() -> None:
            reader = PdfFileReader(BytesIO(pdf), strict=False)
            context: Any = DocumentSecurityStore.read_dss(reader).as_validation_context(
                {
                    "trust_roots": [Certificate.load(der) for der in trust.roots],
                    "allow_fetching": False,
                    "revocation_mode": "hard-fail",
                }
            )

            async def run() -> None:
                for sig in reader.embedded_regular_signatures:
                    status = await async_validate_pdf_signature(sig, context, context)
                    assert status.bottom_line

            asyncio.run(run())

        t_ours, t_ades, t_classic = interleaved([ours, ades_alone, classic], args.runs)
        ratio = t_ours / t_ades
        print(f"full verification {t_ours * 1e3:.0f} ms; pyHanko AdES alone {t_ades * 1e3:.0f} ms")
        print(f"ratio {ratio:.2f}x (aim <= 1.2x); classic pyHanko {t_classic * 1e3:.0f} ms")

        bin_dir = Path(sys.executable).parent
        files = [str(out / "contract.pdf")]
        ours_cli = [str(bin_dir / "wangqian-verify"), *files, "--receipt"]
        ours_cli += [
            str(out / "contract.pdf.tlog-proof"),
            "--trust",
            str(out / "trust-bundle.json"),
        ]
        theirs_cli = [str(bin_dir / "pyhanko"), "sign", "validate", "--trust"]
        theirs_cli += [str(out / "root-ca.pem"), "--trust-replace", "--no-revocation-check", *files]
        cli_runs = max(3, args.runs // 3)

        def process(cmd: list[str]) -> Callable[[], object]:
            return lambda: subprocess.run(cmd, check=True, capture_output=True)

        t_cli, t_pyhanko_cli = interleaved([process(ours_cli), process(theirs_cli)], cli_runs)
        print(f"wangqian-verify {t_cli * 1e3:.0f} ms; pyhanko CLI {t_pyhanko_cli * 1e3:.0f} ms")
        worst = worst_cases(Path(tmp) / "data", trust)
        for name, seconds, verdict in worst:
            print(f"worst case: {name}: {seconds:.2f} s CPU ({verdict})")

    if args.no_write:
        return
    rows = [
        (
            "full verification, in process",
            f"{t_ours * 1e3:.0f} ms",
            f"{t_ades * 1e3:.0f} ms",
            f"{ratio:.2f}x",
        ),
        ("pyHanko classic validation (reference)", "", f"{t_classic * 1e3:.0f} ms", ""),
        *(
            (f"worst input within the limits: {name}", f"{sec:.2f} s CPU ({verdict})", "", "")
            for name, sec, verdict in worst
        ),
        (
            "whole command, start-up included",
            f"{t_cli * 1e3:.0f} ms",
            f"{t_pyhanko_cli * 1e3:.0f} ms (`pyhanko sign validate`, no revocation check)",
            f"{t_cli / t_pyhanko_cli:.2f}x",
        ),
    ]
    body = (
        f"Measured {time.strftime('%Y-%m-%d')} by "
        f"`python benchmarks/verifier.py --runs {args.runs}` "
        f"on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "pyHanko 0.38.0. The demo's contract: three signatures (seller B-T, buyer B-T, filing "
        "seal B-LTA with a document time-stamp), its receipt and trust bundle. Median after a "
        "warm-up, the measures run in turn. Baseline: pyHanko's `ades_lta_validation` of the "
        "same three signatures, same roots, no fetching, with its default difference analysis. "
        "Aim: at most 1.2x. The worst inputs are built by the benchmark at the verifier's "
        "limits (`verifier/document.py`); every other input is refused before any signature "
        "is validated.\n\n"
        "| measure | wangqian | pyHanko | ratio |\n| --- | --- | --- | --- |\n"
        + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    )
    write_section(REPO / "docs" / "benchmarks.md", "Verifier", body)


def worst_cases(data: Path, trust: TrustBundle) -> list[tuple[str, float, str]]:
    """CPU seconds of the costliest documents the limits let through, with their verdicts."""
    from filing.deployment import Deployment

    d = Deployment.open(data)
    try:
        pki, ts = d.pki, d.pki.timestamper()
        buyers = tuple(
            Party("buyer", f"买受人{i}", "居民身份证", f"43010219900101{i:04d}")
            for i in range(
                1, MAX_SIGNATURE_FIELDS - 2
            )  # with the seller, the seal and its time-stamp
        )
        contract = dataclasses.replace(sample_contract(), buyers=buyers)
        pdf, certs = render(contract).pdf, []
        for field, who in [("seller", contract.seller.name)] + [
            (f"buyer-{i}", b.name) for i, b in enumerate(buyers, 1)
        ]:
            key = new_key()
            cert = pki.ca.issue(Profile.PARTY, name(who), key.public_key())
            certs.append(cert)
            signer = key_signer(key, cert, [pki.ca.issuing])
            pdf = pades.sign(pdf, field, signer, pades.Level.B_T, timestamper=ts)
        revocation = pki.revocation([*certs, pki.filing_seal_certificate()])
        with pki.filing_seal() as signer:
            every_field = pades.sign(
                pdf, "filing-seal", signer, pades.Level.B_LTA, timestamper=ts, revocation=revocation
            )
        # The most objects in the draft, then a signature and validation-data revisions up to
        # the revision limit: each revision is compared with the one before it.
        writer: Any = IncrementalPdfFileWriter(BytesIO(render(sample_contract()).pdf), strict=False)
        pdf_dict: Any = generic.DictionaryObject
        number: Any = generic.NumberObject
        for i in range(MAX_OBJECTS - 200):
            writer.add_object(pdf_dict({generic.pdf_name("/N"): number(i)}))
        out = BytesIO()
        writer.write(out)
        key = new_key()
        cert = pki.ca.issue(Profile.PARTY, name("湘江示范置业有限公司"), key.public_key())
        signer = key_signer(key, cert, [pki.ca.issuing])
        many = pades.sign(out.getvalue(), "seller", signer, pades.Level.B_T, timestamper=ts)
        revocation = pki.revocation([cert])
        for _ in range(MAX_REVISIONS - 4):
            many = _dss_revision(many, revocation.ocsp_responses)
    finally:
        d.close()
    out_rows = []
    for label, doc in (
        (f"{MAX_SIGNATURE_FIELDS} signature fields (21 buyers), all signed", every_field),
        (f"{MAX_OBJECTS} objects, {MAX_REVISIONS - 1} revisions", many),
    ):
        start = time.process_time()
        verdict = "passed" if assess(doc, trust, complete=False).passed else "not passed"
        out_rows.append((label, time.process_time() - start, verdict))
    return out_rows


def _dss_revision(pdf: bytes, ocsp_responses: tuple[bytes, ...]) -> bytes:
    """One more revision that only adds validation data (allowed after signatures)."""
    writer: Any = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None, ocsps=[OCSPResponse.load(der) for der in ocsp_responses]
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


if __name__ == "__main__":
    main()
