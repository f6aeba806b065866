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

Leases (租赁备案): most old-community homes not resold are let by their owners over the same
year, a whole home or its two rooms to different lessees, for six months or a year, at rents
that differ by district; some end early by agreement, some are renewed (续订) for a year, and
the rest expire when their term has run out (the authority's daily 期满终止). Each step goes
through the same transactions as the live requests, dated when it happened.

Maintenance funds (住宅专项维修资金): the city adopts the example rule set (from 2026-01-01;
filings before owe nothing), most buyers' funds are deposited by the designated bank with
its own signed statements (today: a bank's certificate is valid from when it is issued),
and one building's owners approve a repair that debits their units.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from api.demo_resale import ACCOUNT, BANK, BankSigner
from filing import maintenance
from filing.deployment import Deployment
from filing.drafting import ResaleTerms
from filing.funds import FundEventKind
from filing.history_import import Batch, HistoryExists, HistoryImport
from filing.lease_drafting import LeaseTerms
from filing.maintenance_service import KIND, MaintenanceService
from filing.ownership import ownership_of
from filing.platform import filing_service
from filing.statistics import city_day
from keys.banks import issue_bank_certificate
from signing.contract import Areas, DisputeResolution, Party, Payment, PaymentMethod, Unit
from signing.lease import PaymentCycle
from signing.resale import Supervision, TaxSplit
from signing.sample import sample_contract
from verifier import fund_statement
from verifier.fund_statement import FundStatement

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
MAINTENANCE_BANK = "示范银行"  # the bank the city designates for maintenance funds


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
    deposited_share: float = 0.8  # of the filings owing maintenance fund
    leased_share: float = 0.8  # of the old homes not resold, let within the year
    rooms_share: float = 0.35  # of those, let room by room (分租) rather than whole
    lease_ended_share: float = 0.15  # of the leases, ended early by agreement
    lease_renewed_share: float = 0.3  # of the leases, renewed (续订) before their end


# A resale's steps after its filing, in days: the deposit into the supervision account,
# the transfer registration (转移登记) after it, the release after that; or a cancellation.
DEPOSIT_AFTER = (1, 7)
TRANSFER_AFTER = (15, 45)
RELEASE_AFTER = (1, 5)
CANCEL_AFTER = (5, 30)
LEASE_TERMS = (182, 365)  # days: six months or a year
ROOMS = (("主卧", Decimal("22.50")), ("次卧", Decimal("14.80")))
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
    leases: int = 0
    leases_ended: int = 0
    leases_renewed: int = 0
    leases_expired: int = 0
    live: list[tuple[str, str]] = field(default_factory=list)  # new homes' filings in force


def generate(data_dir: Path, seed: int = 2026, size: CitySize | None = None) -> dict[str, int]:
    size = size or CitySize()
    rng = random.Random(seed)
    with Deployment.open(data_dir) as deployment:
        maintenance.adopt_example(deployment.data_dir, MAINTENANCE_BANK)  # before rules are read
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
            elif rng.random() < size.leased_share:  # let by its owners (not resold: same owners)
                spaces = ROOMS if rng.random() < size.rooms_share else (("", None),)
                for space, room_area in spaces:
                    lease = _Lease(rng, size, r, owners, space, room_area, today, tally)
                    lease.schedule(at)
        steps.sort(key=lambda s: (s[0], s[1]))
        for start in range(0, len(steps), 500):
            with history.batch() as batch:
                for _, _, step in steps[start : start + 500]:
                    step(batch)
        deposits, debits = _maintenance(deployment, rng, size, tally.live)
        cp = deployment.sequencer().step()
        return {
            "units": len(rows) + len(existing),
            "filings": tally.filings,
            "cancellations": tally.cancellations,
            "resales": tally.resales,
            "resales_cancelled": tally.resales_cancelled,
            "transfers": tally.transfers,
            "fund_events": tally.fund_events,
            "leases": tally.leases,
            "leases_ended": tally.leases_ended,
            "leases_renewed": tally.leases_renewed,
            "leases_expired": tally.leases_expired,
            "maintenance_deposits": deposits,
            "maintenance_debits": debits,
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
        else:
            tally.live.append((number, r["code"]))

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


class _Lease:
    """One lease of an old home (or of one of its rooms) by its owners: filed on its first
    day, then ended early by agreement, renewed for a year, or expired the day after its
    last; each step scheduled at its day, if it has come."""

    def __init__(
        self,
        rng: random.Random,
        size: CitySize,
        r: dict[str, str],
        owners: list[tuple[str, str]],
        space: str,
        room_area: Decimal | None,
        today: dt.datetime,
        tally: _Tally,
    ) -> None:
        self.rng, self.size, self.r, self.owners = rng, size, r, owners
        self.space, self.room_area, self.today, self.tally = space, room_area, today, tally
        self.moment = today - dt.timedelta(days=rng.randrange(365), minutes=rng.randrange(600))
        self.start = city_day(self.moment)
        self.end = self.start + dt.timedelta(days=rng.choice(LEASE_TERMS) - 1)
        self.number = ""
        # About 1/400 of the district's price per m² a month, a room dearer per m².
        base = next(p for district, _, p in DISTRICTS if district == r["district"])
        area = room_area or Decimal(r["forecast_building"])
        per_m2 = Decimal(str(base / 400 * rng.uniform(0.85, 1.15))) * (
            Decimal("1.2") if space else 1
        )
        self.rent = (per_m2 * area).quantize(Decimal("10"))

    def schedule(self, at: Callable[[dt.datetime, Step], None]) -> None:
        rng, size = self.rng, self.size
        at(self.moment, self._file)
        fate = rng.random()
        term = (self.end - self.start).days
        if fate < size.lease_ended_share:
            ended = self.moment + dt.timedelta(days=rng.randint(20, max(21, term - 20)))
            if ended <= self.today:
                at(ended, self._end(ended))
            return
        last = self.end
        if fate < size.lease_ended_share + size.lease_renewed_share:
            renewed = _on(self.end - dt.timedelta(days=rng.randint(7, 30)))
            if renewed > self.today:
                return
            last = self.end + dt.timedelta(days=365)
            at(renewed, self._renew(renewed, last))
        expiry = _on(last + dt.timedelta(days=1))  # the daily run the day after its last
        if expiry <= self.today:
            at(expiry, self._expire(expiry))

    def _file(self, batch: Batch) -> None:
        lessee = _person(self.rng)
        terms = LeaseTerms(
            unit_code=self.r["code"],
            number=f"ZL-CITY-{self.tally.leases + 1:06d}",
            lessors=tuple(Party("lessor", n, "居民身份证", i) for n, i in self.owners),
            enterprise=None,
            lessees=(Party("lessee", lessee[0], "居民身份证", lessee[1]),),
            space=self.space,
            room_area=self.room_area,
            start=self.start,
            end=self.end,
            rent=self.rent,
            cycle=self.rng.choice((PaymentCycle.MONTHLY, PaymentCycle.QUARTERLY)),
            deposit=self.rent,
            purpose="居住",
            occupants=self.rng.randint(1, 2) if self.space else self.rng.randint(1, 4),
            dispute=DisputeResolution.COURT,
            dispute_body=f"长沙市{self.r['district']}人民法院",
        )
        self.number = batch.file(batch.compose_lease(terms, self.moment), self.moment)
        self.tally.leases += 1

    def _end(self, moment: dt.datetime) -> Step:
        def step(batch: Batch) -> None:
            # Synthetic history: the 解除协议 stands for itself by its number.
            batch.cancel(self.number, "租赁双方协商解除", f"{self.number}-JC1", moment)
            self.tally.leases_ended += 1

        return step

    def _renew(self, moment: dt.datetime, until: dt.date) -> Step:
        def step(batch: Batch) -> None:
            batch.renew(self.number, until, "续租一年", moment)
            self.tally.leases_renewed += 1

        return step

    def _expire(self, moment: dt.datetime) -> Step:
        def step(batch: Batch) -> None:
            if batch.expire(self.number, moment) is None:
                raise RuntimeError(f"lease {self.number} did not expire on {moment}")
            self.tally.leases_expired += 1

        return step


def _on(day: dt.date) -> dt.datetime:
    """A step on Beijing day ``day``: 10:00 there (02:00 UTC), as demo-city's today."""
    return dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)


def _maintenance(
    deployment: Deployment, rng: random.Random, size: CitySize, live: list[tuple[str, str]]
) -> tuple[int, int]:
    """Deposits of the filings in force that owe maintenance fund, each signed by the
    designated bank's own key; then a repair of one building debiting its funded units."""
    service = MaintenanceService(deployment)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_bank_certificate(deployment.pki.ca, MAINTENANCE_BANK, key.public_key())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    funded: dict[str, int] = {}
    for n, (number, code) in enumerate(live):
        dues = service.account(code).dues
        due = next((int(d["due_fen"]) for d in dues if d["filing"] == number), 0)
        if not due or rng.random() >= size.deposited_share:
            continue
        statement = FundStatement(
            KIND,
            number,
            code,
            due,
            max(now, certificate.not_valid_before_utc),
            MAINTENANCE_BANK,
            f"WX-{n}",
        ).encode()
        signature = fund_statement.sign(statement, key)
        service.deposit(number, statement, signature, certificate, MAINTENANCE_BANK)
        funded[code] = due
    # One building's repair (屋面防水), approved by its owners: a tenth of each balance.
    buildings = sorted({code[:-4] for code in funded})
    if not buildings:
        return len(funded), 0
    building = rng.choice(buildings)
    debits = [(c, max(1, a // 10)) for c, a in sorted(funded.items()) if c[:-4] == building]
    service.use("WX-CITY-0001", "业主大会决议 屋面防水维修", debits, "长沙市住房和城乡建设局")
    return len(funded), len(debits)
