"""One deployment's use-cases, wired to its database, its clock and its rules.

The HTTP layer (``api/``) and the command line hold a ``Platform`` and call its use-cases;
they touch no table, engine, connection or transaction themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from filing import departments, history
from filing.access_log import AccessLog
from filing.api_keys import KeyStore
from filing.audit import RecordsReport, audit_records
from filing.clock import SYSTEM, Clock
from filing.contracts import ContractReads
from filing.deployment import Deployment
from filing.eligibility import CHANGSHA_2017, load_rule_sets
from filing.fund_service import FundService
from filing.idempotency import IdempotencyRecords
from filing.inventory import Inventory
from filing.lease import lease_rule_sets
from filing.leasing import Leases
from filing.maintenance import maintenance_rule_sets
from filing.maintenance_service import MaintenanceService
from filing.migrations import revisions
from filing.ownership_records import OwnershipRegister
from filing.phone_signing import PhoneSigning
from filing.policy import Caller, Role
from filing.relay import Dispatcher, Targets
from filing.resale import resale_rule_sets
from filing.service import Departments, FilingService
from filing.supervision import Supervision
from keys.identity import VerifiedIdentity

# A write broke a database constraint and its transaction rolled back: the request clashes
# with what is recorded (its text holds the values: never show it).
ConstraintBroken = IntegrityError
# The database cannot store a value of the request (PostgreSQL: a NUL character in text, a
# number out of its column's range); nothing was written.
ValueUnstorable = DataError
# The database stayed busy (e.g. a lock timeout) or could not be reached.
DatabaseBusy = OperationalError
# Anything the database refused or failed at.
DatabaseError = SQLAlchemyError


def filing_service(deployment: Deployment, clock: Clock = SYSTEM) -> FilingService:
    """The filing service over this deployment's database, department tables and rule sets."""
    engine = deployment.log.engine
    rules_file = deployment.data_dir / "eligibility-rules.json"
    rule_sets = load_rule_sets(rules_file) if rules_file.exists() else [CHANGSHA_2017]
    return FilingService(
        deployment,
        Departments(
            departments.TableHouseholds(engine),
            departments.TablePayments(engine),
            departments.TableHomes(engine),
            rule_sets,
            resale_rule_sets(deployment.data_dir),  # 限售: DIR/resale-rules.json
            maintenance_rule_sets(deployment.data_dir),  # DIR/maintenance-fund-rules.json
            lease_rule_sets(deployment.data_dir),  # 租赁: DIR/lease-rules.json
        ),
        clock=clock,
    )


class Platform:
    def __init__(
        self,
        deployment: Deployment,
        clock: Clock = SYSTEM,
        service: FilingService | None = None,
    ) -> None:
        self.d = deployment
        self.clock = clock
        self.service = service or filing_service(deployment, clock)
        engine = deployment.log.engine
        self.keys = KeyStore(engine, clock)
        self.access = AccessLog(engine, deployment.log, clock)
        self.idempotency = IdempotencyRecords(engine, clock)
        self.inventory = Inventory(engine, deployment.pseudonym, clock)
        self.contracts = ContractReads(engine, self.service, clock)
        self.supervision = Supervision(deployment, engine, self.access)
        self.identity = departments.TableIdentityCheck(engine)
        self.ownership = OwnershipRegister(engine, self.access)
        self.funds = FundService(deployment)
        self.maintenance = MaintenanceService(deployment)
        self.phone = PhoneSigning(
            engine,
            self.service,
            self.identity,
            deployment.courier,
            deployment.config.public_url,
            clock,
        )
        self.leases = Leases(engine, self.access, clock)
        # Invitation messages a process that died left staged: sent or dropped by whether
        # their draft committed.
        deployment.settle_staged_messages(clock.now())

    def create_key(self, org: str, role: Role) -> str:
        return self.keys.create(org, role)

    def dispatcher(self, redis_url: str | None, targets: Targets) -> Dispatcher:
        """The outbox relay: the event stream and the subscribers' webhooks."""
        return Dispatcher(self.d.log.engine, redis_url, targets=targets)

    def anchor_histories(self) -> list[history.LoggedAnchor]:
        """Put the unit and filing histories' digests into the filing log."""
        return history.anchor(self.d.log.engine, self.d.log)

    def own_identity(
        self, contract_id: str, field: str, caller: Caller, name: str, id_type: str, number: str
    ) -> VerifiedIdentity:
        """A party's identity for signing its own field: checked against the identity records
        only once the field and the ID number are the caller's own (the records answer nobody
        about anyone else). Raises ``FilingError`` (not your field), ``IdentityRejected``."""
        self.service.check_own_field(contract_id, field, caller.org, number)
        return self.identity.verify(name, id_type, number)

    def audit_records(self) -> RecordsReport:
        return audit_records(self.d.log.engine, self.d.bank_issuers())


def database_kind(deployment: Deployment) -> str:
    """The deployment database's SQL dialect: "sqlite" or "postgresql"."""
    return deployment.log.engine.dialect.name


def migrate(data_dir: Path, say: Callable[[str], None]) -> revisions.Migration:
    """Upgrade the deployment's database to this release's schema; ``say`` hears first
    what the database was."""
    engine = Deployment.database(data_dir)
    try:
        say(revisions.describe(engine))
        return revisions.migrate(engine)
    finally:
        engine.dispose()
