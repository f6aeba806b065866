"""The demo's resale (存量房买卖): an existing home of two co-owners sold through the API.

Each run adds one existing home to an old community, records its owners from the
register, and the owners (both), the buyer and the platform carry its resale through
the one pipeline: drafted by a seller, signed by every party on their phones, filed as
``kind=resale``; the bank confirms the buyer's deposit into the supervision account,
the authority records the transfer registration (转移登记), and only then does the bank
release the money to the sellers. Every one of these is a log entry of the filing.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.pki import new_key
from signing import remote
from verifier import fund_statement
from verifier.fund_statement import FundStatement

OLD_COMMUNITY = "麓山老小区"
OLD_BUILDING = "430104001001GB00002F0009"  # its units: this prefix and a 4-digit number
SELLERS = (("张三", "430104198001010011"), ("李四", "43010419820202002X"))
RESALE_BUYER = ("赵六", "430104198808080088")
BANK = "示范银行长沙分行"
ACCOUNT = "4300 0000 0000 9999"
PRICE_FEN = 150_000_000  # 1,500,000.00 yuan
DEPOSIT_FEN = 50_000_000  # the part paid through the supervision account


class Client(Protocol):
    def post(self, path: str, expect: int, **kw: Any) -> Any: ...
    def get(self, path: str, **kw: Any) -> Any: ...


def people() -> list[tuple[str, str]]:
    """Everyone the resale names, for the department extracts the demo loads."""
    return [*SELLERS, RESALE_BUYER]


def run_resale(
    authority: Client,
    client_for: Callable[[str], Client],
    bank: Client,
    stamp: str,
    unit_exists: Callable[[str], bool],
) -> dict[str, Any]:
    """Carry one resale through; returns the filing's answer with the fund events."""
    code = _add_existing_home(authority, unit_exists)
    # The owners' certificate: they show it to whoever drafts their resale.
    certificate = f"湘（2015）长沙市不动产权第 {code[-6:]} 号"
    authority.post(
        f"/v1/units/{code}/ownership",
        201,
        json={
            "certificate": certificate,
            "owners": [{"name": n, "id_number": i, "share": "1/2"} for n, i in SELLERS],
            "registered_on": "2015-03-02",
        },
    )
    seller = client_for(SELLERS[0][1])
    today = dt.date.today()
    draft = seller.post(
        "/v1/resale-contracts",
        201,
        json={
            "unit_code": code,
            "number": f"ESF-{stamp}",
            "certificate_number": certificate,
            "sellers": [{"name": n, "id_number": i} for n, i in SELLERS],
            "buyers": [{"name": RESALE_BUYER[0], "id_number": RESALE_BUYER[1]}],
            "price": f"{PRICE_FEN / 100:.2f}",
            "payment_method": "LOAN",
            "down_payment": f"{DEPOSIT_FEN / 100:.2f}",
            "loan_bank": BANK,
            "supervision": {
                "bank": BANK,
                "account_name": "长沙市存量房交易资金监管专户",
                "account_number": ACCOUNT,
                "amount": f"{DEPOSIT_FEN / 100:.2f}",
            },
            "delivery_date": (today + dt.timedelta(days=120)).isoformat(),
            "transfer_deadline": (today + dt.timedelta(days=90)).isoformat(),
            "dispute_body": "长沙市岳麓区人民法院",
        },
    )
    fields = [("seller-1", SELLERS[0]), ("seller-2", SELLERS[1]), ("buyer-1", RESALE_BUYER)]
    filed: dict[str, Any] = {}
    for field, person in fields:
        filed = _sign_on_phone(client_for(person[1]), draft["id"], field, person)
    if not filed.get("filed"):
        raise RuntimeError(f"the last signature did not file the resale: {filed}")
    number = str(filed["filing"])

    signer = BankSigner.over_api(bank)
    base = f"/v1/filings/{number}/funds"
    bank.post(f"{base}/deposits", 201, json=signer.signed("deposit", number, DEPOSIT_FEN))
    registered = authority.post(
        f"/v1/units/{code}/registration",
        200,
        json={"certificate": f"湘（{today.year}）长沙市不动产权第 {code[-6:]}1 号"},
    )
    bank.post(f"{base}/releases", 201, json=signer.signed("release", number, DEPOSIT_FEN))
    account = authority.get(base).json()
    return {**filed, "unit": code, "registered": registered, "account": account}


def _add_existing_home(authority: Client, unit_exists: Callable[[str], bool]) -> str:
    """One more home of the old community, never offered by a developer here."""
    codes = (f"{OLD_BUILDING}{n:04d}" for n in itertools.count(1))
    code = next(c for c in codes if not unit_exists(c))
    authority.post(
        "/v1/registry/import",
        201,
        content=existing_homes_csv([code]).encode(),
        headers={"content-type": "text/csv"},
    )
    return code


def existing_homes_csv(codes: list[str]) -> str:
    """The 楼盘表 rows of homes of the old community (codes under ``OLD_BUILDING``)."""
    header = (
        "project,district,address,developer,developer_id,building,code,floor,room,use,"
        "forecast_building,forecast_inner,forecast_shared"
    )
    rows = [
        f"{OLD_COMMUNITY},岳麓区,长沙市岳麓区麓山路 9 号,某原开发公司,91430100OLD0000000,"
        f"1 栋,{code},3,3{code[-2:]},住宅,88.20,72.10,16.10"
        for code in codes
    ]
    return "\n".join([header, *rows]) + "\n"


def _sign_on_phone(
    party: Client, contract_id: str, field: str, person: tuple[str, str], last: bool = False
) -> dict[str, Any]:
    """A party signs its own field on its phone: only the digest crosses the API. The last
    party's signature files the contract (201)."""
    key = new_key()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    start = party.post(
        f"/v1/contracts/{contract_id}/remote-signing/{field}/start",
        200,
        json={"public_key_pem": public, "name": person[0], "id_number": person[1]},
    )
    signature = remote.device_sign(key, base64.b64decode(start["digest_to_sign"]))
    done: dict[str, Any] = party.post(
        f"/v1/contracts/{contract_id}/remote-signing/{field}/finish",
        201 if last or field == "buyer-1" else 200,
        json={"signature": base64.b64encode(signature).decode()},
    )
    return done


class BankSigner:
    """The bank's own key and certificate; it signs each fund statement it sends."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self.key = key
        self.certificate = certificate
        self.cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        self.n = 0

    @classmethod
    def over_api(cls, bank: Client) -> BankSigner:
        """A new key, certified by the platform through ``POST /v1/banks/certificate``."""
        key = ec.generate_private_key(ec.SECP256R1())
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        chain = bank.post("/v1/banks/certificate", 201, json={"public_key_pem": public})
        [certificate, *_] = x509.load_pem_x509_certificates(chain.encode())
        return cls(key, certificate)

    def sign(
        self,
        kind: str,
        number: str,
        amount_fen: int,
        at: dt.datetime | None = None,
        account: str = ACCOUNT,
    ) -> tuple[bytes, bytes]:
        """The statement of ``kind`` for filing ``number``, booked at ``at`` (now), and the
        bank's signature of it. ``account``: the supervision account, or a maintenance
        deposit's unit code."""
        self.n += 1
        statement = FundStatement(
            kind=kind,
            filing=number,
            account=account,
            amount_fen=amount_fen,
            at=at or dt.datetime.now(dt.UTC).replace(microsecond=0),
            bank=BANK,
            reference=f"JG-{number}-{self.n}",
        ).encode()
        return statement, fund_statement.sign(statement, self.key)

    def signed(
        self, kind: str, number: str, amount_fen: int, account: str = ACCOUNT
    ) -> dict[str, str]:
        """``sign``, as the fund routes take it."""
        statement, signature = self.sign(kind, number, amount_fen, account=account)
        return {
            "statement": base64.b64encode(statement).decode(),
            "signature": base64.b64encode(signature).decode(),
            "certificate": self.cert_pem,
        }
