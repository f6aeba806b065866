"""Helpers for tests that start real processes on loopback."""

from __future__ import annotations

import json
import os
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
            proc.kill()
            proc.wait()


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
