"""Public pages: ``/verify`` (anyone checks a contract) and ``/progress`` (a buyer's contract).

Both are single self-contained HTML pages (no CDN, no external resources). The
verification itself is the offline verifier's, run on the server with this
deployment's trust bundle, so the page shows exactly the report ``wangqian-verify``
prints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.problems import Problem
from api.ratelimit import CpuBudget, RateLimiter
from filing.deployment import Deployment
from filing.service import FilingService
from ledger.canonical import NotCanonical
from ledger.receipt import Receipt, ReceiptError, checkpoint_size
from ledger.status_file import StatusFile, StatusFileError
from ledger.status_store import StatusMapError
from verifier.entry import EntryUnreadable, LoggedEntry
from verifier.later import LogData
from verifier.names import field_label
from verifier.reports import to_html
from verifier.signatures import MAX_PDF_SIZE, DocumentUnreadable
from verifier.verify import verify

# A document without a receipt the platform knows of is looked for in the log's entries,
# up to this many; beyond, the page cannot show that it was never filed (INDETERMINATE).
# Whether a known filing is still in force comes from its status proof, at any log size.
MAX_LOG_SCAN = 200_000


class VerificationIn(BaseModel):
    pdf: str = Field(description="the PDF, base64", max_length=(MAX_PDF_SIZE * 4) // 3 + 4)
    receipt: str | None = Field(
        default=None, description="its .tlog-proof (optional: found by hash)", max_length=65536
    )
    lang: Literal["zh", "en"] = "zh"

    model_config = {
        "json_schema_extra": {"examples": [{"pdf": "JVBERi0xLjcK", "receipt": None, "lang": "zh"}]}
    }


class VerificationOut(BaseModel):
    verdict: str
    exit_code: int
    receipt_found: bool = Field(description="the server found the receipt by the PDF's hash")
    report: dict[str, Any] = Field(description="the verifier's JSON report")
    html: str = Field(description="the printable HTML report")


class _EntriesSoFar:
    """The log's entries read so far: the log is append-only, so each request reads only
    what was appended since the last one instead of every entry again."""

    def __init__(self) -> None:
        self._entries: tuple[bytes, ...] = ()
        self._lock = threading.Lock()

    def up_to(self, deployment: Deployment, size: int) -> tuple[bytes, ...]:
        with self._lock:
            have = len(self._entries)
            if size > have:
                self._entries += tuple(deployment.log.entries(have, size))
            return self._entries[:size]


def router(
    deployment: Deployment, service: FilingService, limiter: RateLimiter, budget: CpuBudget
) -> APIRouter:
    r = APIRouter(tags=["pages"])

    @r.get("/verify", response_class=HTMLResponse, summary="The public verification page")
    def verify_page() -> HTMLResponse:
        return HTMLResponse(VERIFY_PAGE)

    @r.get("/dashboard", response_class=HTMLResponse, summary="The authority's dashboard")
    def dashboard_page() -> HTMLResponse:
        return HTMLResponse(DASHBOARD_PAGE)

    @r.get("/progress", response_class=HTMLResponse, summary="A buyer's contract progress page")
    def progress_page() -> HTMLResponse:
        return HTMLResponse(PROGRESS_PAGE)

    @r.post(
        "/v1/verification",
        response_model=VerificationOut,
        summary="Verify a contract PDF (and optionally its receipt), as wangqian-verify would",
    )
    async def verification(body: VerificationIn, request: Request) -> VerificationOut:
        client = f"verify:{request.client.host if request.client else '-'}"
        limiter.check(client)
        try:
            pdf = base64.b64decode(body.pdf, validate=True)
        except ValueError as exc:  # binascii.Error, or characters outside ASCII
            raise Problem(400, "bad-base64", "The PDF is not valid base64", str(exc)) from exc
        return await run_in_threadpool(_charged, client, pdf, body.receipt, body.lang)

    def _charged(client: str, pdf: bytes, receipt: str | None, lang: str) -> VerificationOut:
        with budget.charge(client):  # measured in this thread: the verification's own CPU
            return _verify(pdf, receipt, lang)

    def _verify(pdf: bytes, receipt_text: str | None, lang: str) -> VerificationOut:
        found = False
        try:
            receipt = Receipt.parse(receipt_text) if receipt_text else None
        except ReceiptError as exc:
            raise Problem(422, "bad-receipt", "The receipt is malformed", str(exc)) from exc
        if receipt is None:
            receipt = _receipt_by_hash(hashlib.sha256(pdf).hexdigest())
            found = receipt is not None
        trust = deployment.verifier_trust()
        status = None if receipt is None else _status_of(receipt)
        # Without a status proof (a checkpoint from before the map) the log's entries are
        # read as before, as far as MAX_LOG_SCAN: never a pass that checked nothing.
        log_data = _log_data() if status is None else None
        try:
            report = verify(pdf, trust, receipt, log_data=log_data, status=status)
        except DocumentUnreadable as exc:
            raise Problem(422, "unreadable-document", "Not a PDF we can read", str(exc)) from exc
        return VerificationOut(
            verdict=report.verdict.value,
            exit_code=report.verdict.exit_code,
            receipt_found=found,
            report=report.to_dict(),
            html=to_html(report, lang),
        )

    def _receipt_by_hash(sha256: str) -> Receipt | None:
        cp = deployment.latest_witnessed_checkpoint()
        filed = [f for f in service.filings_with_sha256(sha256) if cp and f["log_index"] < cp.size]
        if cp is None or not filed:
            return None
        return deployment.log.receipt(int(filed[0]["log_index"]), cp)

    def _status_of(receipt: Receipt) -> StatusFile | None:
        """The status proof of the receipt's filing as of the latest witnessed checkpoint,
        with the consistency proof from the receipt's tree; None if there is none to give."""
        cp = deployment.latest_witnessed_checkpoint()
        if cp is None or receipt.extra is None:
            return None
        try:
            filing = LoggedEntry.read(receipt.extra).filing
            old = checkpoint_size(receipt.checkpoint)
            return deployment.status_map.status(filing, cp, old if 0 < old <= cp.size else None)
        except (EntryUnreadable, NotCanonical, StatusMapError, StatusFileError):
            return None  # the verifier then says the status was not checked

    log_entries = _EntriesSoFar()

    def _log_data() -> LogData | None:
        cp = deployment.latest_witnessed_checkpoint()
        if cp is None or cp.size > MAX_LOG_SCAN:
            return None
        return LogData(cp.cosigned_note, log_entries.up_to(deployment, cp.size))

    return r


PAGE_STYLE = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;margin:0;background:#f4f5f7;
color:#111}header{background:#8a1010;color:#fff;padding:.8em 1.5em;font-size:1.2em}
main{max-width:60em;margin:1.5em auto;background:#fff;padding:1.5em;border-radius:6px}
#drop{border:2px dashed #999;border-radius:6px;padding:2em;text-align:center;margin:1em 0}
#drop.over{background:#eef}label{display:block;margin:.5em 0}button{font-size:1em;
padding:.4em 1.2em}iframe{width:100%;height:60em;border:1px solid #ccc;margin-top:1em}
#status{margin-top:1em;font-weight:bold}ol.steps{list-style:none;padding:0;display:flex;gap:.5em}
ol.steps li{flex:1;padding:.8em;border-radius:4px;background:#e5e5e5;text-align:center}
ol.steps li.done{background:#d7f5dd;color:#0a5a1c}ol.steps li.current{background:#fff3c4}
ol.steps li.cancelled{background:#fde0e0;color:#8a1010}
"""

VERIFY_PAGE = (
    """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>合同核验 Verify a filed contract</title><style>"""
    + PAGE_STYLE
    + """</style></head><body><header>网签备案合同核验 · Verify a filed contract</header><main>
<p>拖入合同 PDF（可附回执 .tlog-proof）；无回执时按文件哈希查找备案。
Drop the contract PDF (and, if you have it, its .tlog-proof receipt); without a receipt the
platform looks the filing up by the document's hash. The check is the same as
<code>wangqian-verify</code> runs offline.</p>
<form id="form"><div id="drop">拖放文件到此处 · drop files here</div>
<label>合同 PDF · contract PDF <input type="file" id="pdf" accept="application/pdf,.pdf"></label>
<label>回执 · receipt (optional) <input type="file" id="receipt" accept=".tlog-proof,text/plain">
</label><label>语言 · language <select id="lang"><option value="zh">中文</option>
<option value="en">English</option></select></label>
<button type="submit" id="go">核验 Verify</button></form>
<div id="status" role="status"></div><iframe id="report" title="report"></iframe>
</main><script>
const $ = (id) => document.getElementById(id);
let dropped = {pdf: null, receipt: null};
async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  for (const f of e.dataTransfer.files) {
    if (f.name.endsWith(".tlog-proof")) dropped.receipt = f; else dropped.pdf = f;
  }
  drop.textContent = [dropped.pdf, dropped.receipt].filter(Boolean).map((f) => f.name).join(" + ");
});
$("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const pdf = $("pdf").files[0] || dropped.pdf;
  const receipt = $("receipt").files[0] || dropped.receipt;
  if (!pdf) { $("status").textContent = "请选择 PDF · choose a PDF"; return; }
  $("status").textContent = "核验中… verifying…";
  const body = {pdf: await base64(pdf), receipt: receipt ? await receipt.text() : null,
                lang: $("lang").value};
  const r = await fetch("/v1/verification", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const j = await r.json();
  if (!r.ok) { $("status").textContent = (j.title || r.status) + ": " + (j.detail || "");
               document.body.dataset.verdict = "ERROR"; return; }
  $("status").textContent = j.verdict + (j.receipt_found ? " (receipt found by hash)" : "");
  $("report").srcdoc = j.html;
  document.body.dataset.verdict = j.verdict;
});
</script></body></html>
"""
)


def _party_names() -> dict[str, str]:
    """Each signature field a contract may declare, named for its party as the verifier's
    reports name it (``verifier/names.py``): the progress page says who has signed."""
    fields = ["seller", "agent", "filing-seal"]
    fields += [f"{party}-{i}" for party in ("seller", "buyer") for i in range(1, 21)]
    return {f: field_label(f, "zh") for f in fields}


PROGRESS_PAGE = (
    """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>合同进度 Contract progress</title><style>"""
    + PAGE_STYLE
    + """</style></head><body><header>我的购房合同 · My housing contract</header><main>
<p id="intro">打开方式 · open as <code>/progress#contract=&lt;id&gt;&amp;key=&lt;API key&gt;</code>
（密钥只在浏览器中使用，不发往日志 · the key stays in the browser's address fragment).</p>
<ol class="steps" id="steps"></ol><div id="status" role="status"></div><ul id="docs"></ul>
</main><script>
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const headers = {Authorization: "Bearer " + params.get("key")};
const PARTIES = """
    + json.dumps(_party_names(), ensure_ascii=False)
    + """;
const parties = (fields) => fields.map((f) => PARTIES[f] || f).join("、");
function step(label, state, when) {
  const li = document.createElement("li");
  li.className = state;
  li.innerHTML = "<strong></strong><br><small></small>";
  li.querySelector("strong").textContent = label;
  li.querySelector("small").textContent = when || "";
  $("steps").appendChild(li);
}
async function download(path, name) {
  const r = await fetch(path, {headers});
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a"); a.href = url; a.download = name; a.click();
}
function link(label, path, name) {
  const li = document.createElement("li"); const a = document.createElement("a");
  a.href = "#"; a.textContent = label;
  a.addEventListener("click", (e) => { e.preventDefault(); download(path, name); });
  li.appendChild(a); $("docs").appendChild(li);
}
async function load() {
  const id = params.get("contract");
  if (!id || !params.get("key")) {
    $("status").textContent = "缺少合同编号或密钥 · contract or key missing"; return;
  }
  const r = await fetch("/v1/contracts/" + encodeURIComponent(id), {headers});
  const c = await r.json();
  if (!r.ok) { $("status").textContent = (c.title || r.status) + ": " + (c.detail || "");
               document.body.dataset.state = "ERROR"; return; }
  const signedAll = c.required.filter((f) => f !== "filing-seal")
                     .every((f) => c.signed.includes(f));
  const filed = c.filing !== null;
  const cancelled = filed && c.filing.status === "CANCELLED";
  const registered = filed && !cancelled && c.unit_status === "REGISTERED";
  step("已起草 Drafted", "done", c.created_at.slice(0, 10));
  const parts = c.required.filter((f) => f !== "filing-seal");
  const unsigned = parts.filter((f) => !c.signed.includes(f));
  step("已签署 Signed " + c.signed.filter((f) => f !== "filing-seal").length + "/" +
       (c.required.length - 1), signedAll ? "done" : "current",
       unsigned.length ? "待签 " + parties(unsigned) : parties(parts));
  step(cancelled ? "已注销 Cancelled" : "已备案 Filed", cancelled ? "cancelled" :
       (filed ? "done" : ""), filed ? c.filing.number + " " + c.filing.filed_at.slice(0, 10) : "");
  step("已登记 Registered", registered ? "done" : (filed && !cancelled ? "current" : ""), "");
  $("status").textContent = c.number + " · " + c.unit + " · " + c.status;
  document.body.dataset.state = cancelled ? "CANCELLED" : registered ? "REGISTERED" :
    filed ? "FILED" : signedAll ? "SIGNED" : "DRAFTED";
  link("合同（当前版本）· contract as signed so far", "/v1/contracts/" + id + "/document",
       c.number + ".pdf");
  if (filed) {
    const base = "/v1/filings/" + c.filing.number;
    link("备案合同 · sealed filed contract", base + "/document", c.filing.number + ".pdf");
    link("回执 · receipt (.tlog-proof)", base + "/receipt", c.filing.number + ".pdf.tlog-proof");
  }
}
load();
</script></body></html>
"""
)

DASHBOARD_PAGE = (
    """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>网签备案监管 Supervision dashboard</title><style>"""
    + PAGE_STYLE
    + """.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{border:1px solid #ddd}
table.totals td,table.totals th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}
tr.partial td{font-style:italic;color:#666}
</style></head><body><header>网签备案监管 · Supervision dashboard</header><main>
<p id="intro">打开方式 · open as
<code>/dashboard#key=&lt;authority or statistics API key&gt;</code></p>
<table class="totals" id="totals"></table><div class="charts">
<div class="chart" id="trend"></div><div class="chart" id="districts"></div>
<div class="chart" id="stock"></div></div>
<h2>租赁备案 · Leases</h2><div class="charts">
<div class="chart" id="leases"></div><div class="chart" id="rents"></div></div>
<table class="totals" id="lease-months"></table>
<div id="status" role="status"></div>
</main><script>
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const headers = {Authorization: "Bearer " + params.get("key")};
async function load() {
  if (!params.get("key")) { $("status").textContent = "缺少密钥 · key missing"; return; }
  const totals = await fetch("/v1/stats/filings?by=all", {headers});
  if (!totals.ok) { const p = await totals.json();
    $("status").textContent = (p.title || totals.status) + ": " + (p.detail || "");
    document.body.dataset.state = "ERROR"; return; }
  const [t] = await totals.json();
  const row = (k, v) => { const tr = document.createElement("tr");
    tr.innerHTML = "<th></th><td></td>"; tr.children[0].textContent = k;
    tr.children[1].textContent = v; $("totals").appendChild(tr); };
  // Amounts as people read them: separators, and 万元/亿元 with the exact figure beside.
  const sep = (v, digits) => Number(v).toLocaleString("zh-CN",
    {minimumFractionDigits: digits, maximumFractionDigits: digits});
  const money = (v) => { const n = Number(v);
    const big = n >= 1e8 ? sep(n / 1e8, 2) + " 亿元" : n >= 1e4 ? sep(n / 1e4, 2) + " 万元" : "";
    return big ? big + "（" + sep(n, 2) + " 元）" : sep(n, 2) + " 元"; };
  if (t) {
    row("备案套数 filings", sep(t.filings, 0)); row("备案面积 m²", sep(t.area_m2, 2));
    row("成交金额 value", money(t.value)); row("均价 元/m²", sep(t.avg_price_m2, 0));
    row("注销 cancellations", sep(t.cancellations, 0));
  }
  // By transaction kind (filing/kinds.py), and the money banks hold under supervision.
  const kinds = {"new-presale": "新建商品房（预售）", "new-completed": "新建商品房（现售）",
                 "resale": "存量房"};
  const byKind = await fetch("/v1/stats/filings?by=kind", {headers});
  if (byKind.ok) for (const k of await byKind.json())
    row("备案套数 · " + (kinds[k.key] || k.key), sep(k.filings, 0) + " 套，" + money(k.value));
  const funds = await fetch("/v1/stats/funds", {headers});
  if (funds.ok) { const [f] = await funds.json();
    if (f) { row("监管资金余额 funds held", money(f.held));
             row("监管资金累计存入 deposited", money(f.deposited)); } }
  // 住宅专项维修资金: the units' balances, what came in and what repairs used (fen → 元).
  const upkeep = await fetch("/v1/stats/maintenance", {headers});
  if (upkeep.ok) { const m = await upkeep.json();
    row("维修资金余额 maintenance funds held", money(m.balance_fen / 100));
    row("维修资金累计交存 deposited", money(m.deposited_fen / 100));
    row("维修资金累计使用 used", money(m.used_fen / 100)); }
  // 租赁备案 by month (北京时间) and district: leases filed, average monthly rent.
  const leases = await fetch("/v1/stats/filings?leases=true&period=month&by=district",
                             {headers});
  if (leases.ok) leaseTable(await leases.json(), sep, money);
  for (const chart of ["trend", "districts", "stock", "leases", "rents"]) {
    const r = await fetch("/v1/stats/charts/" + chart + ".svg", {headers});
    $(chart).innerHTML = await r.text();  // our own SVG, labels escaped on the server
  }
  document.body.dataset.state = "READY";
}
function leaseTable(rows, sep, money) {
  // Today in Beijing; its month is marked as to date unless today is its last day (as the
  // charts' partial_last: filing/statistics.py period_is_partial).
  const now = new Date(Date.now() + 8 * 3600e3);
  const month = now.toISOString().slice(0, 7);
  const running = new Date(now.getTime() + 86400e3).getUTCDate() !== 1;
  const districts = [...new Set(rows.map((r) => r.key))].sort();
  const months = [...new Set(rows.map((r) => r.period))].sort().reverse();
  const table = $("lease-months");
  const tr = (cells, tag) => { const row = document.createElement("tr");
    for (const c of cells) { const td = document.createElement(tag); td.textContent = c;
      row.appendChild(td); } table.appendChild(row); return row; };
  tr(["月份 month", ...districts], "th");
  for (const m of months) {
    const partial = m === month && running;
    const cells = districts.map((d) => {
      const r = rows.find((x) => x.period === m && x.key === d);
      return r && r.filings ? sep(r.filings, 0) + " 件 · 均 " + money(r.value / r.filings) : "—";
    });
    const row = tr([m + (partial ? "（截至今日 to date）" : ""), ...cells], "td");
    row.dataset.month = m;
    if (partial) row.className = "partial";
  }
}
load();
</script></body></html>
"""
)
