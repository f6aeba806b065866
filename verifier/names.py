"""What people are called in reports and pages: signature fields as parties, signers by name.

One place for both, shared by the text and HTML reports (``verifier/reports.py``) and the
platform's pages (``api/pages.py``), which import it from here (the verifier imports
nothing of the platform).
"""

from __future__ import annotations

import re

from verifier.models import SignatureFinding

# The parties of a contract's signature fields (signing/contract.py, the resale contract's
# seller-N and agent), in the words of the model contracts.
_PARTIES_ZH = {
    "seller": "出卖人",
    "buyer": "买受人",
    "agent": "经纪人员",
    "lessor": "出租人",  # a rental enterprise's seal; owners sign lessor-N
    "lessee": "承租人",
    "filing-seal": "备案专用章",
}
_NUMBERED = re.compile(r"(seller|buyer|lessor|lessee)-([1-9][0-9]{0,2})")


def field_label(field: str, lang: str) -> str:
    """A signature field named for the party that signs it: ``buyer-2`` is 买受人2 in Chinese.

    Field names it does not know (a forged document's, say) are shown as they are; in
    English every field keeps its name.
    """
    if lang != "zh":
        return field
    numbered = _NUMBERED.fullmatch(field)
    if numbered is not None:
        return f"{_PARTIES_ZH[numbered.group(1)]}{numbered.group(2)}"
    return _PARTIES_ZH.get(field, field)


def signer_label(finding: SignatureFinding, lang: str) -> str:
    """The signer by name: the certificate's common name, its organisation after it when it
    differs (湘江示范置业有限公司; 张三（某某经纪有限公司）), never the raw subject."""
    name = finding.signer or finding.organization or ""
    if not name:
        return "签署人不明" if lang == "zh" else "unknown signer"
    org = finding.organization
    if org and org != name:
        return f"{name}（{org}）" if lang == "zh" else f"{name} ({org})"
    return name
