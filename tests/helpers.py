"""Helpers for tests that start real processes on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledger.receipt import Receipt
from verifier.trust import TrustBundle

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wangqian(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "wangqian"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        # Its own process group, so that a kill reaches the server's worker processes too.
        start_new_session=True,
    )


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"process exited with {proc.returncode}: {out}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill(proc)
    _kill_group(proc)  # whatever a dead parent left behind


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and its whole group: a crash of the machine, workers included."""
    _kill_group(proc)
    proc.wait()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class DemoOutput:
    """What ``wangqian demo`` leaves: its data directory and the evidence it wrote."""

    data: Path
    out: Path
    pdf: bytes
    receipt: Receipt
    trust_json: str

    @property
    def trust(self) -> TrustBundle:
        return TrustBundle.from_json(self.trust_json)


def start_witnesses(data: Path) -> list[subprocess.Popen[str]]:
    """Start again the witnesses a demo data directory is configured with, where they were.

    The demo stops its witnesses when it ends; a deployment whose policy needs their
    cosignatures keeps them running, as these do for the tests that append to it.
    """
    config = json.loads((data / "config.json").read_text(encoding="utf-8"))
    by_vkey = {(d / "witness.vkey").read_text().strip(): d for d in (data / "witnesses").iterdir()}
    procs = []
    try:
        for w in config["witnesses"]:
            port = w["url"].rsplit(":", 1)[1]
            proc = wangqian(
                "witness", "--insecure-dev-passphrase", "--data", str(by_vkey[w["vkey"]]),
                "--port", port,
            )  # fmt: skip
            procs.append(proc)
            wait_http(f"{w['url']}/vkey", proc)
    except BaseException:
        for proc in procs:
            stop(proc)
        raise
    return procs


def run_demo(base: Path) -> DemoOutput:
    run = subprocess.run(
        [str(BIN / "wangqian"), "demo", "--data", str(base / "data"), "--out", str(base / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = base / "out"
    return DemoOutput(
        base / "data",
        out,
        (out / "contract.pdf").read_bytes(),
        Receipt.parse((out / "contract.pdf.tlog-proof").read_text(encoding="utf-8")),
        (out / "trust-bundle.json").read_text(encoding="utf-8"),
    )


def judgment_pdf(reference: str = "(2026)湘0104民初1号") -> bytes:
    """A judgment or decision document, as a court or the authority uploads it."""
    from io import BytesIO

    from reportlab.pdfgen.canvas import Canvas

    out = BytesIO()
    canvas = Canvas(out, invariant=1)
    canvas.drawString(72, 720, f"Judgment {reference}")
    canvas.save()
    return out.getvalue()


def allow_many_homes(data_dir: Path) -> None:
    """Rules under which one buyer may hold many homes: for tests of units and load (races,
    crashes), where one buyer drafts every unit; purchase limits have tests of their own."""
    import json

    data_dir.mkdir(parents=True, exist_ok=True)
    rules = [
        {
            "version": "test-many-homes",
            "effective_from": "2017-03-18",
            "restricted_districts": ["岳麓区"],
            "local_max_homes": 100_000,
            "non_local_min_months": 12,
            "non_local_max_homes": 0,
        }
    ]
    (data_dir / "eligibility-rules.json").write_text(json.dumps(rules), encoding="utf-8")
