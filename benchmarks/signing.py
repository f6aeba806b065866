"""Signing benchmark: wangqian's PAdES signing beside a bare pyHanko ``sign_pdf``, in one run.

    python benchmarks/signing.py [--runs 7] [--no-write]

Same draft PDF, same key, same in-process TSA and revocation data for both; the
bare call uses pyHanko's defaults (which measure the signature with a dry run).
Also: render time and file sizes. Rewrites the "Signing" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from keys.pki import Profile  # noqa: E402
from keys.signers import key_signer  # noqa: E402
from signing import pades  # noqa: E402
from signing.fonts import truetype_font  # noqa: E402
from signing.render import render  # noqa: E402
from signing.sample import sample_contract  # noqa: E402
from tests.pki_helpers import issue, make_pki  # noqa: E402


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: imports, font loading, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        pki = make_pki(Path(tmp))
        seller = issue(pki, "湘江示范置业有限公司", Profile.ENTERPRISE_SEAL)
        signer = key_signer(seller.key, seller.cert, [pki.ca.issuing])
        ts = pki.timestamper()
        revocation = pki.revocation([seller.cert])
        contract = sample_contract()
        draft = render(contract).pdf
        render_s = median_seconds(lambda: render(contract), args.runs)
        stamp = pades.Stamp(truetype_font(), signer="湘江示范置业有限公司")
        rows = [("render the contract (3 pages, CJK subset)", f"{render_s * 1e3:.0f} ms", "", "")]
        print(f"render: {render_s * 1e3:.0f} ms, {len(draft):,} bytes")
        sizes = [("draft PDF", f"{len(draft):,} bytes")]

        for level in pades.Level:

            def ours(level: pades.Level = level) -> bytes:
                return pades.sign(
                    draft, "seller", signer, level, timestamper=ts, revocation=revocation
                )

            def bare(level: pades.Level = level) -> bytes:
                meta = signers.PdfSignatureMetadata(
                    field_name="seller",
                    md_algorithm="sha256",
                    subfilter=fields.SigSeedSubFilter.PADES,
                    embed_validation_info=level.long_term,
                    use_pades_lta=level is pades.Level.B_LTA,
                    validation_context=revocation.validation_context() if level.long_term else None,
                )
                out = signers.sign_pdf(
                    IncrementalPdfFileWriter(BytesIO(draft)),
                    meta,
                    signer=signer,
                    timestamper=ts if level.timestamped else None,
                )
                return bytes(out.getvalue())

            t_ours = median_seconds(ours, args.runs)
            t_bare = median_seconds(bare, args.runs)

            def stamped(level: pades.Level = level) -> bytes:
                return pades.sign(
                    draft,
                    "seller",
                    signer,
                    level,
                    timestamper=ts,
                    revocation=revocation,
                    stamp=stamp,
                )

            t_stamp = median_seconds(stamped, max(3, args.runs // 2))
            ratio = t_ours / t_bare
            print(
                f"{level.value}: ours {t_ours * 1e3:.0f} ms, bare pyHanko {t_bare * 1e3:.0f} ms "
                f"({ratio:.2f}x); with the Chinese visible stamp {t_stamp * 1e3:.0f} ms"
            )
            rows.append(
                (
                    f"sign at {level.value}",
                    f"{t_ours * 1e3:.0f} ms",
                    f"{t_bare * 1e3:.0f} ms",
                    f"{ratio:.2f}x",
                )
            )
            rows.append(
                (
                    f"sign at {level.value} with visible Chinese stamp",
                    f"{t_stamp * 1e3:.0f} ms",
                    "",
                    "",
                )
            )
            sizes.append((f"signed at {level.value}", f"{len(ours()):,} bytes"))

    if not args.no_write:
        lines = [
            f"Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/signing.py --runs "
            f"{args.runs}` on {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, pyHanko 0.38.0. Median of {args.runs} runs after a "
            "warm-up. ECDSA P-256 key in the process, the platform's TSA in the process. "
            "Baseline: `pyhanko.sign.signers.sign_pdf` on the same PDF, key, TSA and "
            "revocation data, with pyHanko's default size estimate (a dry run).",
            "",
            "| measure | wangqian | bare pyHanko | ratio |",
            "| --- | --- | --- | --- |",
            *[f"| {a} | {b} | {c} | {r} |" for a, b, c, r in rows],
            "",
            "| file | size |",
            "| --- | --- |",
            *[f"| {a} | {b} |" for a, b in sizes],
        ]
        write_section(REPO / "docs" / "benchmarks.md", "Signing", "\n".join(lines))
        print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
