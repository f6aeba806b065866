"""The append-only Merkle log (RFC 9162) with C2SP checkpoints, tiles, receipts and witnesses.

``ledger.merkle``, ``ledger.note``, ``ledger.checkpoint``, ``ledger.receipt`` and
``ledger.tiles`` are pure and need no database: the offline verifier uses only them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.log import Log

__all__ = ["Log"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that the pure modules never pull in SQLAlchemy.
    if name == "Log":
        from ledger.log import Log

        return Log
    raise AttributeError(name)
