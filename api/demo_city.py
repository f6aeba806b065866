"""``wangqian demo-city``: a synthetic city for the dashboard, the statistics and their benchmarks.

Six districts of Changsha, dozens of projects, thousands of units in the 楼盘表, and a
year of filings and cancellations with prices that differ by district and drift by month.
Every filing and cancellation goes through the platform's own filing transaction, dated
when it happened (``filing.history_import``). The filings' documents, though, are
placeholders, not signed PDFs (sealing thousands would take an hour): demo-city filings do
not verify, and it refuses a data directory that already holds filings.

Maintenance funds (住宅专项维修资金): the city adopts the example rule set (from 2026-01-01;
filings before owe nothing), most buyers' funds are deposited by the designated bank with
its own signed statements (today: a bank's certificate is valid from when it is issued),
and one building's owners approve a repair that debits their units.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from filing import maintenance
from filing.deployment import Deployment
from filing.history_import import HistoryExists, HistoryImport
from filing.maintenance_service import KIND, MaintenanceService
from filing.platform import filing_service
from keys.banks import issue_bank_certificate
from signing.contract import Areas, Party, Unit
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
BANK = "示范银行"  # the bank the city designates for maintenance funds


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
    deposited_share: float = 0.8  # of the filings owing maintenance fund


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


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
    return name, f"4301{rng.randrange(10**13):013d}{rng.randrange(10)}"


def generate(data_dir: Path, seed: int = 2026, size: CitySize | None = None) -> dict[str, int]:
    size = size or CitySize()
    rng = random.Random(seed)
    with Deployment.open(data_dir) as deployment:
        maintenance.adopt_example(deployment.data_dir, BANK)  # before the rules are read
        history = HistoryImport(filing_service(deployment))
        try:
            history.refuse_if_filed()
        except HistoryExists as exc:
            raise CityExists(
                f"{data_dir} already holds filings; demo-city needs a fresh one"
            ) from exc
        rows = _inventory(rng, size)
        history.registry(rows, "长沙市住房和城乡建设局")
        today = dt.datetime.now(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
        sold = rng.sample(rows, int(len(rows) * size.sold_share))
        dated = sorted(
            (
                (today - dt.timedelta(days=rng.randrange(365), minutes=rng.randrange(600)), r)
                for r in sold
            ),
            key=lambda pair: pair[0],
        )
        filings = cancellations = 0
        live: list[tuple[str, str]] = []  # (filing, unit) of the filings in force
        template = sample_contract()
        prices = {district: base for district, _, base in DISTRICTS}
        for start in range(0, len(dated), 500):
            with history.batch() as batch:
                for at, r in dated[start : start + 500]:
                    months_ago = (today - at).days / 30
                    per_m2 = (
                        prices[r["district"]] * (1 - 0.004 * months_ago) * rng.uniform(0.9, 1.1)
                    )
                    area = Areas(
                        Decimal(r["forecast_building"]),
                        Decimal(r["forecast_inner"]),
                        Decimal(r["forecast_shared"]),
                    )
                    price = (Decimal(str(per_m2)) * area.building).quantize(Decimal("1.00"))
                    name, id_number = _person(rng)
                    contract = dataclasses.replace(
                        template,
                        number=f"HT-CITY-{filings + 1:06d}",
                        seller=Party(
                            "seller", r["developer"], "统一社会信用代码", r["developer_id"]
                        ),
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
                    number = batch.file(contract, at)
                    filings += 1
                    live.append((number, r["code"]))
                    if rng.random() < size.cancelled_share:
                        later = min(at + dt.timedelta(days=rng.randrange(1, 60)), today)
                        # Synthetic history: the agreement stands for itself by its number.
                        agreement = f"{number}-JC1"
                        batch.cancel(number, "双方协商解除", agreement, later)
                        cancellations += 1
                        live.pop()
        deposits, debits = _maintenance(deployment, rng, size, live)
        cp = deployment.sequencer().step()
        return {
            "units": len(rows),
            "filings": filings,
            "cancellations": cancellations,
            "maintenance_deposits": deposits,
            "maintenance_debits": debits,
            "log_size": cp.size if cp else 0,
        }


def _maintenance(
    deployment: Deployment, rng: random.Random, size: CitySize, live: list[tuple[str, str]]
) -> tuple[int, int]:
    """Deposits of the filings in force that owe maintenance fund, each signed by the
    designated bank's own key; then a repair of one building debiting its funded units."""
    service = MaintenanceService(deployment)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_bank_certificate(deployment.pki.ca, BANK, key.public_key())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    funded: dict[str, int] = {}
    for n, (number, code) in enumerate(live):
        dues = service.account(code).dues
        due = next((int(d["due_fen"]) for d in dues if d["filing"] == number), 0)
        if not due or rng.random() >= size.deposited_share:
            continue
        statement = FundStatement(
            KIND, number, code, due, max(now, certificate.not_valid_before_utc), BANK, f"WX-{n}"
        ).encode()
        signature = fund_statement.sign(statement, key)
        service.deposit(number, statement, signature, certificate, BANK)
        funded[code] = due
    # One building's repair (屋面防水), approved by its owners: a tenth of each balance.
    buildings = sorted({code[:-4] for code in funded})
    if not buildings:
        return len(funded), 0
    building = rng.choice(buildings)
    debits = [(c, max(1, a // 10)) for c, a in sorted(funded.items()) if c[:-4] == building]
    service.use("WX-CITY-0001", "业主大会决议 屋面防水维修", debits, "长沙市住房和城乡建设局")
    return len(funded), len(debits)
