"""A bank's certificate for signing fund statements (资金监管).

The bank makes its key itself and keeps it: the platform sees only the public half
and issues a certificate naming the bank (organisation) and what the key is for (the
subject description ``FUND_STATEMENTS``). Statements are then signed by the bank and
checked by the platform and the offline verifier (``verifier/fund_statement.py``).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from keys.authority import CertificateAuthority
from keys.identity import DESCRIPTION
from keys.pki import Profile, name

# What the certificate's subject description says; verifier/fund_statement.py reads it.
FUND_STATEMENTS = "wangqian fund statements"


class BankCertificateRefused(ValueError):
    """No certificate can be issued for this request."""


def issue_bank_certificate(
    ca: CertificateAuthority,
    bank: str,
    public_key: ec.EllipticCurvePublicKey,
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    """A fund-statement certificate for ``bank`` (its organisation name) and its own key;
    ``not_before``: from when, for a synthetic history (demo-city), else from now."""
    if not bank.strip() or not bank.isprintable() or len(bank) > 100:
        raise BankCertificateRefused("a bank is named by 1 to 100 printable characters")
    if public_key.curve.name != "secp256r1":
        raise BankCertificateRefused("a bank's key is ECDSA P-256")
    subject = name(f"{bank} 资金监管", organization=bank)
    subject = x509.Name([*subject, x509.NameAttribute(DESCRIPTION, FUND_STATEMENTS)])
    if not_before is None:
        return ca.issue(Profile.BANK, subject, public_key)
    return ca.issue(
        Profile.BANK, subject, public_key, dt.timedelta(days=3 * 365), not_before=not_before
    )
