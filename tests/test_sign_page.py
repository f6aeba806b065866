"""``/sign`` end to end in headless Chromium on a phone-sized screen, against a real server on
SQLite and PostgreSQL: the developer drafts, the buyer opens the invitation link, passes the
identity check and signs with a WebCrypto key; the filed contract passes the offline verifier.
Screenshots of each step are saved in the test's directory."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from filing.deployment import Deployment
from filing.invitation_delivery import read_smsd_file
from ledger.receipt import Receipt
from tests.helpers import BIN
from tests.sms import phone_of, token_for
from tests.test_filing_api import BUYER, CONTRACT, _post, _setup_registry
from tests.test_fund_api import server
from tests.test_pages import browser

__all__ = ["browser", "server"]  # the fixtures

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def _receipt(client: httpx.Client, number: str, headers: dict[str, str]) -> str:
    for _ in range(60):
        r = client.get(f"/v1/filings/{number}/receipt", headers=headers)
        if r.status_code == 200:
            return r.text
        time.sleep(0.5)
    raise AssertionError(f"no receipt for {number}: {r.text}")


def test_a_buyer_signs_on_a_phone_and_the_filed_contract_verifies_offline(
    server: tuple[str, dict[str, dict[str, str]], Deployment], browser: Any, tmp_path: Path
) -> None:
    base, keys, d = server
    with httpx.Client(base_url=base, timeout=120) as client:
        _setup_registry(client, keys)  # type: ignore[arg-type]
        r = _post(client, "/v1/contracts", keys["developer"], json=CONTRACT)  # type: ignore[arg-type]
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        cid = r.json()["id"]  # type: ignore[attr-defined]
        [invitation] = r.json()["invitations"]  # type: ignore[attr-defined]
        cid = r.json()["id"]  # type: ignore[attr-defined]
        # The link as the buyer's phone received it by SMS (the test's server stands in
        # for the configured public address).
        [message] = [read_smsd_file(p.read_bytes()) for p in d.courier.outgoing.glob("wq-*.sms")]
        assert message.phone == phone_of(BUYER[1]) and invitation["sent"]
        fragment = message.text.split("/sign#", 1)[1].split()[0]
        token = token_for(d, cid, "buyer-1")
        r = _post(client, f"/v1/contracts/{cid}/seal", keys["developer"])  # type: ignore[arg-type]
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]

        context = browser.new_context(**PHONE)
        page = context.new_page()
        requests: list[tuple[str, dict[str, str]]] = []
        page.on("request", lambda q: requests.append((q.url, q.headers)))
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/sign#{fragment}")
        page.wait_for_selector("body[data-state]", timeout=30_000)
        assert page.get_attribute("body", "data-state") == "READY", page.text_content("#status")
        # The token left the address bar; no request carried it in its URL or a Referer.
        assert page.evaluate("location.hash") == ""
        assert not [u for u, h in requests if token in u or token in h.get("referer", "")]
        assert any(h.get("x-invitation") == token for _, h in requests)
        assert page.text_content("#party") == f"买受人：{BUYER[0]}"
        assert "北京时间" in str(page.text_content("#expires"))
        page.wait_for_function(
            "[...document.querySelectorAll('#pages img')].length > 1 && "
            "[...document.querySelectorAll('#pages img')].every(i => i.naturalWidth > 0)",
            timeout=30_000,
        )
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is wider than the phone: {width}px"
        page.screenshot(path=str(tmp_path / "1-contract.png"))

        page.fill("#name", BUYER[0])
        page.fill("#id", "430102199001019999")  # a typo: refused, attempts counted
        page.click("#check")
        page.wait_for_selector("body[data-state=REJECTED]", timeout=30_000)
        assert "还可尝试 4 次" in str(page.text_content("#status"))
        page.screenshot(path=str(tmp_path / "2-identity-rejected.png"))
        page.fill("#id", BUYER[1])
        page.click("#check")
        page.wait_for_selector("body[data-state=IDENTIFIED]", timeout=30_000)
        page.screenshot(path=str(tmp_path / "3-identified.png"))

        page.click("#sign")
        page.wait_for_selector("body[data-state=FILED], body[data-state=ERROR]", timeout=60_000)
        assert page.get_attribute("body", "data-state") == "FILED", page.text_content("#status")
        number = str(page.text_content("#filing"))
        page.screenshot(path=str(tmp_path / "4-filed.png"), full_page=True)
        if page.is_visible("#receipt"):  # the answer held the receipt: the phone keeps it
            with page.expect_download() as download:
                page.click("#receipt")
            kept = Path(download.value.path()).read_text(encoding="utf-8")
            assert Receipt.parse(kept).index >= 0
        # What crossed the network from the phone: a public key, an identity, a signature.
        posted = [u for u, _ in requests if "/v1/invitations/" in u and u.endswith("finish")]
        assert len(posted) == 1
        # No script error and no CSP violation (the refused identity's 422 is expected).
        assert not [e for e in errors if "status of 422" not in e], errors
        context.close()

        state = client.get(f"/v1/contracts/{cid}", headers=keys["buyer"]).json()
        assert state["status"] == "FILED" and state["filing"]["number"] == number
        assert state["signed"][:2] == ["seller", "buyer-1"], state
        pdf = client.get(f"/v1/filings/{number}/document", headers=keys["buyer"]).content
        receipt = _receipt(client, number, keys["buyer"])
    (tmp_path / "contract.pdf").write_bytes(pdf)
    (tmp_path / "contract.pdf.tlog-proof").write_text(receipt, encoding="utf-8")
    trust = tmp_path / "trust-bundle.json"
    trust.write_text(json.dumps(d.trust_bundle()), encoding="utf-8")
    run = subprocess.run(
        [
            str(BIN / "wangqian-verify"),
            str(tmp_path / "contract.pdf"),
            "--receipt",
            str(tmp_path / "contract.pdf.tlog-proof"),
            "--trust",
            str(trust),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "PASSED" in run.stdout, run.stdout + run.stderr
    assert BUYER[0] in run.stdout  # the buyer's own signature, certified for this field
