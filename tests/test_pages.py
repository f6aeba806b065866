"""The public pages, in headless Chromium (Debian's), against a real ``wangqian serve``."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from signing.sample import sample_contract
from tests.helpers import BIN, DemoOutput, free_port, stop, wait_http, wangqian

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GREEN = (0xD7, 0xF5, 0xDD)  # the report's PASSED background
RED = (0xFD, 0xE0, 0xE0)  # its MISMATCH / FAILED background
CREATE_KEY = [str(BIN / "wangqian"), "admin", "create-key", "--data"]


@pytest.fixture(scope="module")
def server(demo: DemoOutput) -> Iterator[str]:
    port = free_port()
    proc = wangqian(
        "serve", "--insecure-dev-passphrase", "--data", str(demo.data), "--port", str(port)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/log/checkpoint", proc, timeout=60)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (scripts/system-deps.sh installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


def _share(png: Path, colour: tuple[int, int, int]) -> float:
    """The share of the screenshot's pixels within a few levels of ``colour``."""
    raw = Image.open(png).convert("RGB").tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    near = sum(1 for p in pixels if all(abs(a - b) <= 6 for a, b in zip(p, colour, strict=True)))
    return near / len(pixels)


def _verify_in_page(
    browser: Any, url: str, pdf: Path, receipt: Path | None, lang: str, shot: Path
) -> str:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url + "/verify")
    page.set_input_files("#pdf", str(pdf))
    if receipt is not None:
        page.set_input_files("#receipt", str(receipt))
    page.select_option("#lang", lang)
    page.click("#go")
    page.wait_for_selector("body[data-verdict]", timeout=60_000)
    verdict = str(page.get_attribute("body", "data-verdict"))
    frame = page.frame_locator("#report")
    frame.locator("#verdict").wait_for(timeout=10_000)
    frame.locator("#verdict").screenshot(path=str(shot))
    page.close()
    return verdict


def test_the_verify_page_passes_the_filed_contract_found_by_hash(
    server: str, browser: Any, demo: DemoOutput, tmp_path: Path
) -> None:
    shot = tmp_path / "passed.png"
    verdict = _verify_in_page(browser, server, demo.out / "contract.pdf", None, "zh", shot)
    assert verdict == "PASSED"
    assert _share(shot, GREEN) > 0.3, "the verdict is not shown on a green ground"
    assert _share(shot, RED) < 0.01


def test_the_verify_page_shows_a_mismatch_for_a_tampered_copy(
    server: str, browser: Any, demo: DemoOutput, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(demo.pdf + b"\n% appended\n")
    shot = tmp_path / "mismatch.png"
    receipt = demo.out / "contract.pdf.tlog-proof"
    verdict = _verify_in_page(browser, server, tampered, receipt, "en", shot)
    assert verdict == "MISMATCH"
    assert _share(shot, RED) > 0.3 and _share(shot, GREEN) < 0.01
    # Without the receipt the server finds no filing with that hash: 未备案.
    assert _verify_in_page(browser, server, tampered, None, "zh", shot) == "NOT_FILED"


def test_the_verification_api_refuses_bad_input_with_problems(server: str) -> None:
    r = httpx.post(server + "/v1/verification", json={"pdf": "***"})
    assert r.status_code == 400 and r.json()["type"].endswith("/bad-base64")
    # Non-ASCII in the base64 was a 500 once (found by schemathesis): a 400 now.
    r = httpx.post(server + "/v1/verification", json={"pdf": "JVBERi0xLjcK…"})
    assert r.status_code == 400 and r.json()["type"].endswith("/bad-base64")
    r = httpx.post(server + "/v1/verification", json={"pdf": base64.b64encode(b"nope").decode()})
    assert r.status_code == 422 and r.json()["type"].endswith("/unreadable-document")
    r = httpx.post(
        server + "/v1/verification",
        json={"pdf": base64.b64encode(b"%PDF-1.7").decode(), "receipt": "nonsense"},
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/bad-receipt")
    assert r.headers["content-type"].startswith("application/problem+json")


def _buyer_contract(demo: DemoOutput) -> tuple[str, str]:
    """The filed demo contract's id, and a new API key for its buyer."""
    buyer_id = sample_contract().buyers[0].id_number
    with sqlite3.connect(demo.data / "wangqian.db") as db:
        rows = db.execute(
            "SELECT c.id, c.data FROM contracts c JOIN filings f ON f.contract_id = c.id "
            "WHERE f.status = 'ACTIVE' ORDER BY f.number"
        ).fetchall()
    contract_id = next(cid for cid, data in rows if buyer_id in data)
    made = subprocess.run(
        [*CREATE_KEY, str(demo.data), "--org", buyer_id, "--role", "buyer"],
        capture_output=True,
        text=True,
        check=True,
    )
    return contract_id, made.stdout.split()[-1]


def test_the_progress_page_shows_a_buyer_their_filed_contract(
    server: str, browser: Any, demo: DemoOutput, tmp_path: Path
) -> None:
    contract_id, key = _buyer_contract(demo)
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    page.goto(f"{server}/progress#contract={contract_id}&key={key}")
    page.wait_for_selector("body[data-state]", timeout=30_000)
    assert page.get_attribute("body", "data-state") == "FILED"
    steps = page.locator("#steps li")
    assert steps.count() == 4
    assert [steps.nth(i).get_attribute("class") for i in range(4)] == [
        "done",
        "done",
        "done",
        "current",
    ]
    assert "CS-" in steps.nth(2).inner_text()
    # Who signed, named as the verifier's reports name them (verifier/names.py).
    assert "出卖人、买受人1" in steps.nth(1).inner_text()
    docs = page.locator("#docs li")
    assert docs.count() == 3  # the contract so far, the sealed contract, its receipt
    with page.expect_download() as download:
        docs.nth(1).locator("a").click()
    saved = tmp_path / "sealed.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == demo.pdf
    page.locator("#steps").screenshot(path=str(tmp_path / "progress.png"))
    assert _share(tmp_path / "progress.png", GREEN) > 0.2
    # Someone else's key sees nothing of it.
    other = subprocess.run(
        [*CREATE_KEY, str(demo.data), "--org", "110101199001010000", "--role", "buyer"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    page.goto(f"{server}/progress#contract={contract_id}&key={other}")
    page.reload()
    page.wait_for_selector("body[data-state]", timeout=30_000)
    assert page.get_attribute("body", "data-state") == "ERROR"
    page.close()


def test_the_report_json_from_the_api_matches_the_cli(server: str, demo: DemoOutput) -> None:
    r = httpx.post(
        server + "/v1/verification",
        json={"pdf": base64.b64encode(demo.pdf).decode(), "lang": "en"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["receipt_found"] and body["verdict"] == "PASSED" and body["exit_code"] == 0
    cli = subprocess.run(
        [
            str(BIN / "wangqian-verify"),
            str(demo.out / "contract.pdf"),
            "--json",
            "--receipt",
            str(demo.out / "contract.pdf.tlog-proof"),
            "--trust",
            str(demo.out / "trust-bundle.json"),
        ],
        capture_output=True,
        text=True,
    )
    report = json.loads(cli.stdout)
    page_sigs = [(s["field"], s["indication"]) for s in body["report"]["signatures"]]
    assert page_sigs == [(s["field"], s["indication"]) for s in report["signatures"]]
    assert body["report"]["filing"]["filing"] == report["filing"]["filing"]


def test_later_checkpoint_from_the_server_proves_the_receipt_still_holds(
    server: str, demo: DemoOutput, tmp_path: Path
) -> None:
    size = int(demo.receipt.checkpoint.split("\n")[1])
    r = httpx.get(server + f"/log/later-checkpoint?old={size}")
    assert r.status_code == 200
    (tmp_path / "later.txt").write_text(r.text, encoding="utf-8")
    cli = subprocess.run(
        [
            str(BIN / "wangqian-verify"),
            str(demo.out / "contract.pdf"),
            "--receipt",
            str(demo.out / "contract.pdf.tlog-proof"),
            "--trust",
            str(demo.out / "trust-bundle.json"),
            "--later-checkpoint",
            str(tmp_path / "later.txt"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    checks = {c["name"]: c["indication"] for c in json.loads(cli.stdout)["checks"]}
    assert checks["consistency"] == "TOTAL-PASSED"
    too_big = httpx.get(server + "/log/later-checkpoint?old=99999999")
    assert too_big.status_code == 404 and too_big.json()["type"].endswith("/size-out-of-range")


def test_the_verify_page_reads_each_log_entry_once(tmp_path: Path) -> None:
    """It read every entry of the log on every request (up to 200,000): now only new ones."""
    from api.pages import _EntriesSoFar
    from filing.deployment import Deployment

    with Deployment.open(tmp_path / "data") as d:
        d.log.append_many([b"a", b"b", b"c"])
        reads: list[tuple[int, int]] = []
        real = d.log.entries

        def entries(start: int, end: int) -> list[bytes]:
            reads.append((start, end))
            return real(start, end)

        d.log.entries = entries  # type: ignore[method-assign]
        so_far = _EntriesSoFar()
        assert so_far.up_to(d, 3) == (b"a", b"b", b"c")
        assert so_far.up_to(d, 2) == (b"a", b"b")  # an older checkpoint: a prefix, no read
        d.log.append_many([b"d", b"e"])
        assert so_far.up_to(d, 5) == tuple(real(0, 5))
        assert reads == [(0, 3), (3, 5)]


@pytest.mark.parametrize(
    ("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
def test_the_api_docs_render_without_internet(
    server: str, browser: Any, path: str, ready: str, tmp_path: Path
) -> None:
    html = httpx.get(server + path).text
    assert "cdn." not in html and "fonts.googleapis" not in html
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:  # as on a network without internet
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server + path)
    page.wait_for_selector(ready, timeout=30_000)
    assert "wangqian" in page.locator(ready).first.inner_text()
    page.screenshot(path=str(tmp_path / f"{path.strip('/')}.png"))
    # ReDoc's bundle would ask cdn.redoc.ly for its logo; the page's policy keeps it home.
    assert outside == []
    assert "default-src 'self'" in httpx.get(server + path).headers["content-security-policy"]
    page.close()
