"""Descriptions of the operations whose routes give none, kept in one place (as
``api.examples`` keeps the examples); ``api.openapi`` adds who needs a key and how to retry.
The roles are ``filing.policy``'s; docs/api.md says the same at more length.
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "GET /log/checkpoint": "The latest checkpoint with its witnesses' cosignatures (C2SP signed "
    "note). 404 `no-checkpoint` before the first.",
    "GET /log/vkey": "The log's verifier key (C2SP signed-note vkey), for verifiers and witnesses.",
    "GET /log/tile/{path}": "A Merkle tree tile `<L>/<N>[.p/<W>]` or an entry bundle "
    "`entries/<N>[.p/<W>]` (C2SP tlog-tiles); full tiles are immutable.",
    "GET /log/proof/inclusion": "The inclusion proof of entry `index` in the tree of `size` "
    "(RFC 9162), base64 hashes.",
    "GET /log/proof/consistency": "The consistency proof between tree sizes `old` and `new` "
    "(RFC 9162).",
    "GET /log/receipt/{index}": "A `.tlog-proof` receipt of entry `index` against the latest "
    "checkpoint; 404 `not-yet-logged` until a checkpoint covers it.",
    "POST /tsa": "RFC 3161 time-stamping: body `application/timestamp-query`, answer "
    "`application/timestamp-reply` (a malformed request gets the protocol's rejection).",
    "POST /ocsp": "RFC 6960 OCSP: body `application/ocsp-request`, answer "
    "`application/ocsp-response`.",
    "GET /ocsp/{encoded}": "RFC 6960 OCSP over GET: the base64 request in the path.",
    "GET /crl/{slug}.crl": "A fresh DER CRL of `root-ca` or `issuing-ca`.",
    "GET /pki/{slug}.crt": "A CA certificate (DER): `root-ca` or `issuing-ca`.",
    "POST /v1/registry/import": "Authority. A 楼盘表 as `text/csv` or `application/json`; all "
    "rows or none (422 `import-rejected` lists every row's error).",
    "POST /v1/registry/permits": "Authority. A presale permit (预售许可证) and the units it "
    "covers; 409 `permit-exists`, 422 `unknown-unit`.",
    "GET /v1/units/{code}/measurements": "Any role. The unit's measured areas as each "
    "completion record set them, oldest first (old values null the first time).",
    "GET /v1/departments/{kind}/loads": "Authority. The loads of a department extract, newest "
    "first: who, when, rows, SHA-256 of the file as sent.",
    "GET /v1/units": "Any role. Units of the 楼盘表 in code order, optionally by status; "
    "`limit` and `offset` page through them.",
    "POST /v1/units/{code}/release": "The unit's developer, or the authority. Puts the unit on "
    "sale (开盘): NOT_RELEASED → AVAILABLE; 409 `invalid-transition` from any other status.",
    "POST /v1/units/{code}/flags/{flag}": "Authority or court. Sets (`on: true`) or clears a "
    "blocking flag: SEIZED (查封), MORTGAGED (抵押), NOT_FOR_SALE, with the reason, on record.",
    "POST /v1/contracts": "Developer. Drafts a contract: the 楼盘表 decides the kind "
    "(`new-presale`, GF-2014-0171, under a presale permit; `new-completed`, GF-2014-0172, with "
    "measured areas); 房源核验 and 购房资格 run, the PDF is rendered and the unit reserved. "
    "409 unit taken or `duplicate-contract-number`; 422 `unit-not-sellable` naming the checks.",
    "GET /v1/contracts/{contract_id}": "The developer and buyers (own), authority, court. The "
    "contract's kind, state, unit, required and completed signatures, the filing once filed, "
    "and the eligibility decisions (as much of them as the role may see).",
    "GET /v1/contracts/{contract_id}/document": "Same readers. The contract PDF as signed so far.",
    "POST /v1/contracts/{contract_id}/seal": "Developer. Applies the developer's enterprise seal "
    'from the platform\'s token. Answers 200 `{"filed": false}`, or 201 with the filing when '
    "it was the last signature; 409 `contract-state` once sealed, filed, withdrawn or expired.",
    "POST /v1/contracts/{contract_id}/signatures": "Developer or buyer. The next signed revision "
    '(`application/pdf`, PAdES over the previous one). 200 `{"filed": false}`, or 201 with '
    "the filing when it was the last signature; 422 `signature-rejected`.",
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/start": "Buyer, for their own "
    "field (`buyer-N`). After the identity check, the digest the device signs (P-256, the key "
    "never leaves it). 403 `not-your-field`, 422 `identity-rejected`, `unknown-signature-field`.",
    "POST /v1/contracts/{contract_id}/remote-signing/{field}/finish": "Buyer. The device's "
    'signature over the digest; the platform embeds it. 200 `{"filed": false}`, or 201 with '
    "filing, log index and receipt when it was the last signature (signing equals filing).",
    "POST /v1/contracts/{contract_id}/withdraw": "Developer. Withdraws a draft; the unit is "
    "released. 409 `contract-state` once filed.",
    "POST /v1/filings": "Developer. Files a contract signed by every party elsewhere "
    "(`application/pdf`): 201 with filing number and receipt; 409 unit taken, 422 naming the "
    "failed check.",
    "GET /v1/filings": "Any role. Was this PDF ever filed? By its SHA-256: a contract (`kind: "
    "filed`) or a change agreement (`kind: changed`).",
    "GET /v1/filings/{number}": "Any role (developer and buyers: their own). The filing with its "
    "transaction kind, and what it was cancelled on (`cancellation`), if it was.",
    "GET /v1/filings/{number}/document": "The filing's parties, authority, court. The sealed "
    "contract PDF (in the access log).",
    "GET /v1/filings/{number}/receipt": "The filing's `.tlog-proof` receipt; 404 "
    "`not-yet-logged` until a checkpoint covers it.",
    "GET /v1/filings/{number}/changes": "The filing's change agreements (变更), oldest first.",
    "GET /v1/filings/{number}/changes/{index}/document": "A sealed change agreement (PDF), by "
    "its log index.",
    "POST /v1/units/{code}/mortgages": "Authority. Records a mortgage (抵押登记); the unit is "
    "flagged MORTGAGED. 409 `no-ownership-record`, `mortgage-exists`.",
    "POST /v1/units/{code}/mortgages/discharge": "Authority. Records a mortgage's discharge "
    "(抵押权注销); the flag goes with the last one. 404 `unknown-mortgage`.",
    "GET /v1/filings/{number}/funds": "The filing's developer and buyers, authority, court, the "
    "account's bank. The supervision account (资金监管) and its events; in the access log.",
    "GET /v1/filings/{number}/funds/{index}/statement": "Same readers. A fund event's statement "
    "as the bank signed it, with signature, certificate and receipt: its evidence.",
    "GET /v1/stats/charts/{chart}.svg": "Authority, department. A dashboard chart (SVG): "
    "`trend`, `districts` or `stock`.",
    "GET /v1/stats/stock": "Authority, department. Unsold stock now by district, project, use or "
    "all: not released, available, reserved, unsold area. `format=csv` exports.",
    "GET /v1/tax/filings": "Tax. Filed contracts with price, area, seller and buyers, by filing "
    "time, 1,000 a page (`after`); `format=csv` exports.",
    "GET /v1/loans/filings/{number}": "Bank, authority. Is the filing in force: unit, status, "
    "price, area, number of buyers; no personal data.",
    "GET /v1/court/filings/{number}/evidence": "Court, authority. The evidence package (ZIP): "
    "the sealed PDF, its receipt, the trust bundle, the history, change agreements, log data.",
    "GET /v1/webhooks": "Subscribers. Your webhook subscriptions and how far each has got.",
    "GET /v1/webhooks/{sub_id}/dead-letters": "Subscribers. Events given up on after every "
    "retry; `last_error` is `HTTP <status>`, `refused address` or `no answer`.",
    "POST /v1/webhooks/{sub_id}/dead-letters/{event_id}/redeliver": "Subscribers. Tries one "
    "dead letter once more.",
    "GET /verify": "The public verification page: drop a PDF (and its receipt), see the report.",
    "GET /dashboard": "The authority's dashboard page (its API key is entered on the page).",
    "GET /progress": "A buyer's contract progress page, opened as "
    "`/progress#contract=<id>&key=<API key>`.",
    "POST /v1/verification": "Public. Verifies a contract PDF (base64), with its receipt or "
    "finding it by hash, as `wangqian-verify` would with this deployment's trust bundle. Rate "
    "limited per client address, by requests and CPU seconds.",
}
