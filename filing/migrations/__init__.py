"""The deployment database's schema history: one Alembic history for every table.

The deployment database holds the tables of ``ledger`` (the log, the status map),
``filing`` (楼盘表, contracts, filings, histories, department extracts, the outbox, and the
API keys, the access log and idempotency keys, which release 0.1 kept in ``api``). Their
schema changes only through the revisions in ``versions/``; a deployment's database is
upgraded, never recreated:

``filing.migrations.revisions`` runs them:

* ``prepare`` is what opening a deployment does: an empty database is brought to the
  newest revision (head) at once; one at head opens; any other is refused
  (``DatabaseBehind``, ``DatabaseNotRecognised``) with the command that upgrades it.
* ``migrate`` is ``wangqian admin migrate``: it upgrades to head, in one transaction
  under the schema lock. A database made by release 0.1, before migrations (tables,
  no ``alembic_version``), is first compared with what that release made
  (``filing.migrations.frozen``) and stamped with its revision (``adopt``).

The witness's store (ledger/witness.py) and the CA's certificate registry
(keys/registry.py) are other databases, with histories of their own to come; see
docs/operations.md.
"""

from __future__ import annotations


class SchemaError(Exception):
    """The database's schema is not the one this wangqian runs on."""


class DatabaseBehind(SchemaError):
    """The database is at an older revision (or predates revisions): migrate it first."""


class DatabaseNotRecognised(SchemaError):
    """The database is at a revision this wangqian does not know, or is not wangqian's."""
