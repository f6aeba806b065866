"""Verifier benchmark: full verification of the demo's contract beside pyHanko's validation alone.

    python benchmarks/verifier.py [--runs 15] [--no-write]

Runs ``wangqian demo`` once into a temporary directory, then times, in one process:

* wangqian: ``verifier.verify.verify`` — read the PDF, ETSI AdES (LTA) validation of the
  three signatures, filing seal, document hash, receipt (log key, witnesses, inclusion);
* baseline: pyHanko's ``ades_lta_validation`` of the same three signatures with the same
  trust roots and no fetching — the signature validation alone;
* for reference, pyHanko's classic ``async_validate_pdf_signature`` with the DSS's data;

and the two command lines as whole processes (start-up included). Rewrites the
"Verifier" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
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

from asn1crypto.x509 import Certificate  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.validation import ades, async_validate_pdf_signature  # noqa: E402
from pyhanko.sign.validation.dss import DocumentSecurityStore  # noqa: E402

from api.demo import run_demo  # noqa: E402
from benchmarks.report import write_section  # noqa: E402
from ledger.receipt import Receipt  # noqa: E402
from verifier.models import Verdict  # noqa: E402
from verifier.signatures import validation_spec  # noqa: E402
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
        spec = validation_spec(trust)

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

        def process(cmd: list[str]) -> Callable[[], None]:
            return lambda: subprocess.run(cmd, check=True, capture_output=True)

        t_cli, t_pyhanko_cli = interleaved([process(ours_cli), process(theirs_cli)], cli_runs)
        print(f"wangqian-verify {t_cli * 1e3:.0f} ms; pyhanko CLI {t_pyhanko_cli * 1e3:.0f} ms")

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
        "same three signatures, same roots, no fetching. Aim: at most 1.2x.\n\n"
        "| measure | wangqian | pyHanko | ratio |\n| --- | --- | --- | --- |\n"
        + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    )
    write_section(REPO / "docs" / "benchmarks.md", "Verifier", body)


if __name__ == "__main__":
    main()
