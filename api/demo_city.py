"""``wangqian demo-city``: a synthetic city for the dashboard, the statistics and their benchmarks.

Six districts of Changsha, dozens of projects, thousands of units in the 楼盘表, and a
year of filings and cancellations with prices that differ by district and drift by month.
Beside the new homes, each district has an old community of existing homes whose owners
come from the register (imported, registered years ago); over the same year many of them
are resold (存量房买卖): the buyer's deposit confirmed by the supervising bank's signed
statement, then the transfer registration (转移登记) and the release to the sellers, or,
for a few, a cancellation and the refund to the buyer; the latest still wait, their money
held. Every filing, registration, cancellation and fund event goes through the platform's
own transactions, dated when it happened (``filing.history_import``), in date order. The
filings' documents, though, are placeholders, not signed PDFs (sealing thousands would
take an hour): demo-city filings do not verify, and it refuses a data directory that
already holds filings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from api.demo_resale import ACCOUNT, BANK, BankSigner
from filing.deployment import Deployment
from filing.drafting import ResaleTerms
from filing.funds import FundEventKind
from filing.history_import import Batch, HistoryExists, HistoryImport
from filing.ownership import ownership_of
from filing.platform import filing_service
from keys.banks import issue_bank_certificate
from signing.contract import Areas, DisputeResolution, Party, Payment, PaymentMethod, Unit
from signing.resale import Supervision, TaxSplit
from signing.sample import sample_contract

# District, GB/T 2260 code, price per m² (yuan) around which its contracts are signed.
DISTRICTS = (
    ("芙蓉区", "430102", 13500),
    ("天心区", "430103", 12000),
    ("岳麓区", "430104", 12800),
    ("开福区", "430105", 11200),
    ("雨花区", "430111", 11800),
    ("望城区", "430112", 7600),
)
NAMES = [
    "锦绣",
    "湘江",
    "麓山",
    "橘洲",
    "星城",
    "梅溪",
    "洋湖",
    "滨江",
    "金茂",
    "华润",
    "保利",
    "万科",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
LAYOUTS = (("89.20", "72.45", "16.75"), ("118.56", "96.30", "22.26"), ("143.88", "116.90", "26.98"))


CREDIT_CODE = "统一社会信用代码"


class CityExists(Exception):
    """The data directory already holds filings."""


@dataclass(frozen=True)
class CitySize:
    projects_per_district: int = 6
    buildings_per_project: int = 2
    floors: int = 24
    units_per_floor: int = 3
    sold_share: float = 0.7
    cancelled_share: float = 0.03
    existing_floors: int = 6  # the old community: one building per district, 2 homes a floor
    resold_share: float = 0.6  # of its homes, resold within the year
    resale_cancelled_share: float = 0.08  # of the resales, cancelled and refunded


# A resale's steps after its filing, in days: the deposit into the supervision account,
# the transfer registration (转移登记) after it, the release after that; or a cancellation.
DEPOSIT_AFTER = (1, 7)
TRANSFER_AFTER = (15, 45)
RELEASE_AFTER = (1, 5)
CANCEL_AFTER = (5, 30)
EXISTING_DEVELOPER = ("长沙市房地产开发总公司", "91430100OLD0000000")


def _inventory(rng: random.Random, size: CitySize) -> list[dict[str, str]]:
    rows = []
    for d, (district, code, _) in enumerate(DISTRICTS):
        for p in range(size.projects_per_district):
            name = f"{NAMES[(d * 7 + p) % len(NAMES)]}{['苑', '园', '府', '城', '湾', '里'][p % 6]}"
            developer_id = f"9143{d:02d}{p:02d}MA4L{rng.randrange(10**6):06d}"
            for b in range(1, size.buildings_per_project + 1):
                for floor in range(1, size.floors + 1):
                    for room in range(1, size.units_per_floor + 1):
                        building, inner, shared = LAYOUTS[room - 1]
                        rows.append(
                            {
                                "project": name,
                                "district": district,
                                "address": f"长沙市{district}{name}路 {p + 1} 号",
                                "developer": f"{name}置业有限公司",
                                "developer_id": developer_id,
                                "building": f"{b} 栋",
                                "code": f"{code}{p + 1:03d}001GB{d + 1:05d}F"
                                f"{b:04d}{floor:02d}{room:02d}",
                                "floor": str(floor),
                                "room": f"{floor}{room:02d}",
                                "use": "住宅" if floor > 1 else "商业",
                                "forecast_building": building,
                                "forecast_inner": inner,
                                "forecast_shared": shared,
                            }
                        )
    return rows


def _existing_homes(size: CitySize) -> list[dict[str, str]]:
    """Each district's old community (project 900): homes built long ago, never offered
    here, whose owners come from the register."""
    rows = []
    for d, (district, code, _) in enumerate(DISTRICTS):
        name = f"{district[:2]}老小区"
        for floor in range(1, size.existing_floors + 1):
            for room in (1, 2):
                building, inner, shared = LAYOUTS[room - 1]
                rows.append(
                    {
                        "project": name,
                        "district": district,
                        "address": f"长沙市{district}{name}",
                        "developer": EXISTING_DEVELOPER[0],
                        "developer_id": EXISTING_DEVELOPER[1],
                        "building": "1 栋",
                        "code": f"{code}900001GB{d + 1:05d}F0001{floor:02d}{room:02d}",
                        "floor": str(floor),
                        "room": f"{floor}{room:02d}",
                        "use": "住宅",
                        "forecast_building": building,
                        "forecast_inner": inner,
                        "forecast_shared": shared,
                    }
                )
    return rows


def _serial(code: str) -> str:
    """A certificate's serial for a home: its district and its place in the building."""
    return f"{code[:6]}{code[-8:]}"


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
    return name, f"4301{rng.randrange(10**13):013d}{rng.randrange(10)}"


# What happens at a moment of the city's history, within an import batch.
Step = Callable[[Batch], None]


@dataclass
class _Tally:
    filings: int = 0
    cancellations: int = 0
    resales: int = 0
    resales_cancelled: int = 0
    transfers: int = 0
    fund_events: int = 0


def generate(data_dir: Path, seed: int = 2026, size: CitySize | None = None) -> dict[str, int]:
    size = size or CitySize()
    rng = random.Random(seed)
    with Deployment.open(data_dir) as deployment:
        history = HistoryImport(filing_service(deployment))
        try:
            history.refuse_if_filed()
        except HistoryExists as exc:
            raise CityExists(
                f"{data_dir} already holds filings; demo-city needs a fresh one"
            ) from exc
        rows = _inventory(rng, size)
        history.registry(rows, "长沙市住房和城乡建设局")
        existing = _existing_homes(size)
        history.registry(existing, "长沙市住房和城乡建设局", release=False)
        today = dt.datetime.now(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
        tally = _Tally()
        steps: list[tuple[dt.datetime, int, Step]] = []

        def at(moment: dt.datetime, step: Step) -> None:
            steps.append((moment, len(steps), step))

        sold = rng.sample(rows, int(len(rows) * size.sold_share))
        for r in sold:
            moment = today - dt.timedelta(days=rng.randrange(365), minutes=rng.randrange(600))
            at(moment, _new_home_sale(rng, size, r, moment, today, tally))
        bank_key = ec.generate_private_key(ec.SECP256R1())
        certificate = issue_bank_certificate(
            deployment.pki.ca, BANK, bank_key.public_key(), today - dt.timedelta(days=400)
        )
        bank = BankSigner(bank_key, certificate)
        resold = rng.sample(existing, int(len(existing) * size.resold_share))
        cancelled = {
            r["code"] for r in rng.sample(resold, round(len(resold) * size.resale_cancelled_share))
        }
        resold_codes = {r["code"] for r in resold}
        for r in existing:
            owners = [_person(rng) for _ in range(rng.choice((1, 2)))]
            registered = dt.date(rng.randrange(2005, 2017), rng.randrange(1, 13), 1)
            certificate_no = f"湘（{registered.year}）长沙市不动产权第 {_serial(r['code'])} 号"
            history.owners(
                r["code"],
                ownership_of(certificate_no, [(n, "居民身份证", i) for n, i in owners], registered),
            )
            if r["code"] in resold_codes:
                moment = today - dt.timedelta(days=rng.randrange(365), minutes=rng.randrange(600))
                plan = _Resale(rng, r, owners, moment, today, r["code"] in cancelled, bank, tally)
                plan.schedule(at)
        steps.sort(key=lambda s: (s[0], s[1]))
        for start in range(0, len(steps), 500):
            with history.batch() as batch:
                for _, _, step in steps[start : start + 500]:
                    step(batch)
        cp = deployment.sequencer().step()
        return {
            "units": len(rows) + len(existing),
            "filings": tally.filings,
            "cancellations": tally.cancellations,
            "resales": tally.resales,
            "resales_cancelled": tally.resales_cancelled,
            "transfers": tally.transfers,
            "fund_events": tally.fund_events,
            "log_size": cp.size if cp else 0,
        }


def _price(
    rng: random.Random, r: dict[str, str], moment: dt.datetime, today: dt.datetime
) -> Decimal:
    """The district's price per m², drifting down 0.4 % a month into the past, ±10 %."""
    base = next(p for district, _, p in DISTRICTS if district == r["district"])
    months_ago = (today - moment).days / 30
    per_m2 = base * (1 - 0.004 * months_ago) * rng.uniform(0.9, 1.1)
    return (Decimal(str(per_m2)) * Decimal(r["forecast_building"])).quantize(Decimal("1.00"))


def _new_home_sale(
    rng: random.Random,
    size: CitySize,
    r: dict[str, str],
    moment: dt.datetime,
    today: dt.datetime,
    tally: _Tally,
) -> Step:
    """A new home's filing at ``moment`` and, for a few, its cancellation."""
    template = sample_contract()

    def step(batch: Batch) -> None:
        price = _price(rng, r, moment, today)
        area = Areas(
            Decimal(r["forecast_building"]),
            Decimal(r["forecast_inner"]),
            Decimal(r["forecast_shared"]),
        )
        name, id_number = _person(rng)
        contract = dataclasses.replace(
            template,
            number=f"HT-CITY-{tally.filings + 1:06d}",
            seller=Party("seller", r["developer"], CREDIT_CODE, r["developer_id"]),
            buyers=(Party("buyer", name, "居民身份证", id_number),),
            unit=Unit(
                r["code"],
                r["address"],
                f"{r['project']} {r['building']}",
                int(r["floor"]),
                r["room"],
                r["use"],
                area,
            ),
            price=price,
            payment=dataclasses.replace(template.payment, down_payment=price),
        )
        number = batch.file(contract, moment)
        tally.filings += 1
        if rng.random() < size.cancelled_share:
            later = min(moment + dt.timedelta(days=rng.randrange(1, 60)), today)
            # Synthetic history: the agreement stands for itself by its number.
            batch.cancel(number, "双方协商解除", f"{number}-JC1", later)
            tally.cancellations += 1

    return step


class _Resale:
    """One existing home's resale: filed, the deposit, then the transfer and the release,
    or a cancellation and the refund; each step scheduled at its day, if it has come."""

    def __init__(
        self,
        rng: random.Random,
        r: dict[str, str],
        owners: list[tuple[str, str]],
        moment: dt.datetime,
        today: dt.datetime,
        cancel: bool,
        bank: BankSigner,
        tally: _Tally,
    ) -> None:
        self.rng, self.r, self.owners, self.moment = rng, r, owners, moment
        self.today, self.cancel, self.bank, self.tally = today, cancel, bank, tally
        self.number = ""
        price = _price(rng, r, moment, today) * Decimal("0.85")  # existing homes sell lower
        self.price = price.quantize(Decimal("1.00"))
        # The part paid through the supervision account: about a third, in whole yuan.
        self.deposit_fen = int(self.price * 100 * Decimal("0.3")) // 100 * 100

    def schedule(self, at: Callable[[dt.datetime, Step], None]) -> None:
        rng = self.rng

        def later(after: dt.datetime, days: tuple[int, int]) -> dt.datetime:
            return after + dt.timedelta(days=rng.randint(*days), minutes=rng.randrange(600))

        at(self.moment, self._file)
        deposit = later(self.moment, DEPOSIT_AFTER)
        if deposit > self.today:
            return
        at(deposit, self._fund(FundEventKind.DEPOSIT, deposit))
        if self.cancel:
            cancelled = later(deposit, CANCEL_AFTER)
            if cancelled <= self.today:
                at(cancelled, self._cancel(cancelled))
                refund = later(cancelled, RELEASE_AFTER)
                if refund <= self.today:
                    at(refund, self._fund(FundEventKind.REFUND, refund))
            return
        transfer = later(deposit, TRANSFER_AFTER)
        if transfer > self.today:
            return
        at(transfer, self._transfer(transfer))
        release = later(transfer, RELEASE_AFTER)
        if release <= self.today:
            at(release, self._fund(FundEventKind.RELEASE, release))

    def _file(self, batch: Batch) -> None:
        r, moment = self.r, self.moment
        buyer = _person(self.rng)
        district = r["district"]
        terms = ResaleTerms(
            unit_code=r["code"],
            number=f"ESF-CITY-{self.tally.resales + 1:06d}",
            sellers=tuple(Party("seller", n, "居民身份证", i) for n, i in self.owners),
            buyers=(Party("buyer", buyer[0], "居民身份证", buyer[1]),),
            brokerage=None,
            price=self.price,
            payment=Payment(PaymentMethod.LOAN, Decimal(self.deposit_fen) / 100, loan_bank=BANK),
            supervision=Supervision(
                BANK, "长沙市存量房交易资金监管专户", ACCOUNT, Decimal(self.deposit_fen) / 100
            ),
            taxes=TaxSplit.BY_LAW,
            delivery_date=(moment + dt.timedelta(days=90)).date(),
            transfer_deadline=(moment + dt.timedelta(days=60)).date(),
            late_payment_rate=Decimal("0.0005"),
            late_delivery_rate=Decimal("0.0005"),
            dispute=DisputeResolution.COURT,
            dispute_body=f"长沙市{district}人民法院",
        )
        self.number = batch.file(batch.compose_resale(terms, moment), moment)
        self.tally.resales += 1

    def _fund(self, kind: FundEventKind, moment: dt.datetime) -> Step:
        def step(batch: Batch) -> None:
            statement, signature = self.bank.sign(kind.value, self.number, self.deposit_fen, moment)
            batch.fund_event(
                self.number, kind, statement, signature, self.bank.certificate, BANK, moment
            )
            self.tally.fund_events += 1

        return step

    def _transfer(self, moment: dt.datetime) -> Step:
        def step(batch: Batch) -> None:
            code = self.r["code"]
            batch.register(code, f"湘（{moment.year}）长沙市不动产权第 {_serial(code)}1 号", moment)
            self.tally.transfers += 1

        return step

    def _cancel(self, moment: dt.datetime) -> Step:
        def step(batch: Batch) -> None:
            # Synthetic history: the agreement stands for itself by its number.
            batch.cancel(self.number, "买卖双方协商解除", f"{self.number}-JC1", moment)
            self.tally.resales_cancelled += 1

        return step
