"""``/sign``: the page a party opens on a phone, from the invitation link, to sign.

Self-contained (no external resource; the CSP allows the page's own script by its hash,
images only from ``blob:``, requests only to this server). The token comes in the URL's
fragment, which no browser sends anywhere: the page moves it to the tab's sessionStorage,
takes it out of the address bar, and sends it only in the ``X-Invitation`` header.

The key is made by WebCrypto as non-extractable: it exists only inside this browser, and
signs the CMS signed attributes the server sends (the document's digest and the signing
time, never the document). The page shows the contract's pages, rendered by the server.
"""

from __future__ import annotations

import base64
import hashlib

from api.pages import PAGE_STYLE

_SCRIPT = r"""
const $ = (id) => document.getElementById(id);
const KEY = "wangqian-invitation";
if (location.hash.length > 1) {
  sessionStorage.setItem(KEY, location.hash.slice(1));
  history.replaceState(null, "", location.pathname);  // the token leaves the address bar
}
const params = new URLSearchParams(sessionStorage.getItem(KEY) || "");
const contract = params.get("contract"), field = params.get("field");
const base = "/v1/invitations/" + encodeURIComponent(contract) + "/" + encodeURIComponent(field);
const headers = {"X-Invitation": params.get("token") || ""};
const beijing = (iso) => new Date(iso).toLocaleString("zh-CN",
  {timeZone: "Asia/Shanghai", hour12: false}) + "（北京时间）";
function say(text, state) {
  $("status").textContent = text;
  if (state) document.body.dataset.state = state;
}
async function call(path, body) {
  const r = await fetch(base + path, {method: body ? "POST" : "GET",
    headers: body ? {...headers, "Content-Type": "application/json"} : headers,
    body: body ? JSON.stringify(body) : undefined});
  const j = await r.json();
  if (!r.ok) throw j;
  return j;
}
const problem = (p) => (p.title || "错误") + (p.detail ? "：" + p.detail : "") +
  (p.attempts_left !== undefined ? "（还可尝试 " + p.attempts_left + " 次）" : "");
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
function pem(spki) {
  const lines = b64(spki).match(/.{1,64}/g).join("\n");
  return "-----BEGIN PUBLIC KEY-----\n" + lines + "\n-----END PUBLIC KEY-----\n";
}
let invitation = null;
async function load() {
  if (!contract || !field || !params.get("token")) {
    say("链接不完整：请使用开发企业发送的签约链接。", "ERROR"); return;
  }
  try { invitation = await call(""); } catch (p) { say(problem(p), "ERROR"); return; }
  const v = invitation;
  $("number").textContent = v.number;
  $("unit").textContent = v.unit;
  $("party").textContent = v.role + "：" + v.name;
  $("expires").textContent = beijing(v.expires_at);
  for (let i = 0; i < v.pages; i++) {
    const img = document.createElement("img");
    img.alt = "合同第 " + (i + 1) + " 页";
    $("pages").appendChild(img);
    const r = await fetch(base + "/pages/" + i, {headers});
    if (r.ok) img.src = URL.createObjectURL(await r.blob());
  }
  if (v.status !== "DRAFT") { say("该合同已不在待签状态。", "ERROR"); return; }
  if (v.signed.includes(field)) { say("您已签署本合同。", "SIGNED"); return; }
  if (v.identity_checked) identified(); else $("identity").hidden = false;
  document.body.dataset.state = document.body.dataset.state || "READY";
}
function identified() {
  $("identity").hidden = true;
  $("signing").hidden = false;
  if (invitation.next_field !== field) {
    $("sign").disabled = true;
    say("尚未轮到您签署：请等待其他当事人先签署后刷新本页。", "WAITING");
  } else say("身份核验已通过，请阅读合同后点击“签署”。", "IDENTIFIED");
}
$("identity").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await call("/identity", {name: $("name").value.trim(), id_number: $("id").value.trim()});
    identified();
  } catch (p) { say(problem(p), "REJECTED"); }
});
$("sign").addEventListener("click", async () => {
  $("sign").disabled = true;
  say("正在签署…");
  try {
    // Non-extractable: the private key can be used by this page, never read out of it.
    const keys = await crypto.subtle.generateKey({name: "ECDSA", namedCurve: "P-256"},
                                                 false, ["sign"]);
    const spki = await crypto.subtle.exportKey("spki", keys.publicKey);
    const c = await call("/start", {public_key_pem: pem(spki)});
    // WebCrypto hashes (SHA-256) what it signs: the DER signed attributes themselves.
    const sig = await crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, keys.privateKey,
                                         unb64(c.signed_attributes));
    const done = await call("/finish", {signature: b64(sig)});
    sessionStorage.removeItem(KEY);  // used up
    if (done.filed) {
      say("签署完成，合同已备案。备案号：" + done.filing, "FILED");
      $("filing").textContent = done.filing;
      if (done.receipt) {  // the receipt proves the filing offline, with the sealed PDF
        const a = $("receipt");
        a.href = URL.createObjectURL(new Blob([done.receipt], {type: "text/plain"}));
        a.download = done.filing + ".pdf.tlog-proof";
        a.hidden = false;
      }
      $("result").hidden = false;
    } else say("签署完成。其他当事人签署后合同即备案。", "SIGNED");
  } catch (p) { say(p && p.title ? problem(p) : "签署失败：" + p, "ERROR");
                $("sign").disabled = false; }
});
load();
"""

_CSS = (
    PAGE_STYLE
    + """
main{margin:0;border-radius:0;padding:1em;max-width:40em;margin:0 auto}
header{font-size:1.05em;padding:.7em 1em}dl{display:grid;grid-template-columns:auto 1fr;
gap:.3em .8em;margin:0}dt{color:#555}dd{margin:0;word-break:break-all}
#pages img{display:block;width:100%;border:1px solid #ccc;margin:.6em 0;background:#fff}
#pages{max-height:60vh;overflow-y:auto;margin:1em 0}
input{font-size:1.05em;width:100%;box-sizing:border-box;padding:.5em;margin-top:.2em}
button{width:100%;font-size:1.15em;padding:.7em;margin-top:.8em;background:#8a1010;color:#fff;
border:0;border-radius:6px}button:disabled{background:#bbb}
"""
)

_DIGEST = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_DIGEST}'; style-src 'unsafe-inline'; "
        "img-src blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

PAGE = (
    """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>网上签约 · 签署合同</title><style>"""
    + _CSS
    + """</style></head><body><header>网上签约 · 签署购房合同</header><main>
<dl><dt>合同编号</dt><dd id="number"></dd><dt>房屋</dt><dd id="unit"></dd>
<dt>签署人</dt><dd id="party"></dd><dt>有效期至</dt><dd id="expires"></dd></dl>
<div id="pages"></div>
<form id="identity" hidden><p>身份核验：请输入您的姓名和身份证号码。</p>
<label>姓名 <input id="name" autocomplete="name" required maxlength="100"></label>
<label>身份证号码 <input id="id" inputmode="text" required maxlength="40"></label>
<button type="submit" id="check">核验身份</button></form>
<div id="signing" hidden><p>点击“签署”后，本机生成仅存于本浏览器的签名密钥，
只对合同摘要签名；合同文件不离开平台。</p><button type="button" id="sign">签署</button></div>
<div id="status" role="status"></div>
<p id="result" hidden>备案号 <strong id="filing"></strong>：可在
<a href="/verify">合同核验</a>页面核验备案合同。
<a id="receipt" hidden>下载备案回执</a></p>
</main><script>"""
    + _SCRIPT
    + """</script></body></html>
"""
)
