"""How long a newcomer waits: README's two commands, timed from a fresh clone.

The baseline is the main job alone (``wangqian demo`` on a fresh data directory, with
everything installed), measured in the same run: the ratio says how much of the first
command is installing. ``--tests`` also times the second command (the whole suite, about
20 minutes on the project's 2-core machines). Writes the "First run" section of
docs/benchmarks.md.

    python benchmarks/first_run.py [--tests]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.report import write_section  # noqa: E402


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", action="store_true", help="also time scripts/test.sh")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "wangqian"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        first = _timed(["bash", "scripts/demo.sh"], clone)
        # The baseline: the main job alone, installed, on a fresh data directory.
        job = _timed(
            [str(clone / ".venv/bin/wangqian"), "demo", "--data", "data2", "--out", "out2"], clone
        )
        tests = _timed(["bash", "scripts/test.sh", "-q"], clone) if args.tests else None
    rows = [
        "| command | seconds | × the main job alone |",
        "| --- | --- | --- |",
        f"| `bash scripts/demo.sh` (fresh clone: install, then the demo) | {first:.0f} | "
        f"{first / job:.1f}x |",
        f"| the main job alone (`wangqian demo`, installed, fresh data) | {job:.0f} | 1.0x |",
    ]
    if tests is not None:
        rows.append(
            f"| `bash scripts/test.sh` (installs the test extras, lint, the whole suite) | "
            f"{tests:.0f} | {tests / job:.0f}x |"
        )
    body = (
        f"README's two commands from a fresh clone on {platform.machine()}, "
        f"{platform.python_version()} (pip's cache and Debian's packages as the machine had "
        "them; a machine without the CJK font installs it first).\n\n" + "\n".join(rows)
    )
    print(body)
    write_section(REPO / "docs" / "benchmarks.md", "First run", body)


if __name__ == "__main__":
    main()
