"""A C2SP tlog-witness: cosigns a checkpoint only if it extends the last one it cosigned.

The witness keeps, per log origin, the latest checkpoint it cosigned. The check
against that state and its update happen in one write transaction, so two
concurrent requests can never roll the witness back. Beyond the C2SP statement about
the first three lines, this witness cosigns at most one checkpoint text with extension
lines per tree size: a status map root it cosigned is the only one for that tree.
"""

from __future__ import annotations

import time

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    insert,
    select,
    update,
)

from ledger.add_checkpoint import AddCheckpoint, AddCheckpointError
from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.database import open_engine, write_transaction
from ledger.merkle import ProofError, verify_consistency
from ledger.note import NoteError, Signer, Verifier, open_note, split_note

_meta = MetaData()
witness_state = Table(
    "witness_state",
    _meta,
    Column("origin", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
)
# Every request with a valid log signature, cosigned or refused: evidence of misbehaviour.
witness_requests = Table(
    "witness_requests",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("body", Text, nullable=False),
)


class WitnessError(Exception):
    """A refused add-checkpoint request, with the HTTP status the protocol prescribes."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size  # for 409: the size of the latest cosigned checkpoint


def parse_request(body: str) -> AddCheckpoint:
    try:
        return AddCheckpoint.parse(body)
    except AddCheckpointError as exc:
        raise WitnessError(400, str(exc)) from exc


class Witness:
    def __init__(self, signer: Signer, logs: list[Verifier], engine: Engine) -> None:
        self.signer = signer
        self._logs: dict[str, list[Verifier]] = {}
        for v in logs:
            self._logs.setdefault(v.name, []).append(v)
        self._engine = engine

    @classmethod
    def open(cls, signer: Signer, logs: list[Verifier], url: str) -> Witness:
        engine = open_engine(url)
        with write_transaction(engine) as conn:
            _meta.create_all(conn)
        return cls(signer, logs, engine)

    def close(self) -> None:
        self._engine.dispose()

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(witness_state.c.size, witness_state.c.root).where(
                    witness_state.c.origin == origin
                )
            ).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def add_checkpoint(self, body: str, now: int | None = None) -> str:
        """Handle one add-checkpoint request; returns the cosignature line(s)."""
        request = parse_request(body)
        try:
            text, _ = split_note(request.note)
            checkpoint = Checkpoint.parse(text)
        except (NoteError, CheckpointError) as exc:
            raise WitnessError(400, f"malformed checkpoint: {exc}") from exc
        verifiers = self._logs.get(checkpoint.origin)
        if not verifiers:
            raise WitnessError(404, f"unknown log {checkpoint.origin!r}")
        try:
            open_note(request.note, verifiers)
        except NoteError as exc:
            raise WitnessError(403, f"checkpoint not signed by the log's key: {exc}") from exc
        if request.old_size > checkpoint.size:
            raise WitnessError(400, "old size is larger than the checkpoint's size")
        received = int(time.time()) if now is None else now
        with write_transaction(self._engine) as conn:
            row = conn.execute(
                select(witness_state.c.size, witness_state.c.root, witness_state.c.note).where(
                    witness_state.c.origin == checkpoint.origin
                )
            ).first()
            known_size, known_root = (0, b"") if row is None else (int(row[0]), bytes(row[1]))
            outcome = self._judge(request, checkpoint, known_size, known_root)
            # Cosigning two texts of one tree would let the log show two different status
            # map roots (extension lines) for it, both witnessed. A text with extension lines
            # may follow one without (a log that has just started committing to its map).
            if (
                outcome is None
                and row is not None
                and known_size == checkpoint.size
                and row[2] != text
                and Checkpoint.parse(row[2]).extensions
            ):
                outcome = WitnessError(
                    409, "same tree, different checkpoint lines: a split view", known_size
                )
            conn.execute(
                insert(witness_requests).values(
                    origin=checkpoint.origin,
                    received_at=received,
                    outcome=outcome.message if outcome else "cosigned",
                    body=body,
                )
            )
            if outcome is None:
                values = {"size": checkpoint.size, "root": checkpoint.root_hash, "note": text}
                if row is None:
                    conn.execute(insert(witness_state).values(origin=checkpoint.origin, **values))
                else:
                    conn.execute(
                        update(witness_state)
                        .where(witness_state.c.origin == checkpoint.origin)
                        .values(**values)
                    )
        if outcome is not None:
            # Raised after the commit, so the refused request stays on record.
            raise outcome
        return self.signer.signature_line(text, received) + "\n"

    @staticmethod
    def _judge(
        request: AddCheckpoint, checkpoint: Checkpoint, known_size: int, known_root: bytes
    ) -> WitnessError | None:
        if request.old_size != known_size:
            return WitnessError(409, f"latest cosigned size is {known_size}", size=known_size)
        if known_size == 0:
            if request.proof:
                return WitnessError(422, "proof must be empty when old size is 0")
            return None
        if checkpoint.size == known_size:
            if checkpoint.root_hash != known_root:
                return WitnessError(409, "same size, different root: a split view", known_size)
            if request.proof:
                return WitnessError(422, "proof must be empty for an unchanged size")
            return None
        try:
            verify_consistency(
                known_size, checkpoint.size, list(request.proof), known_root, checkpoint.root_hash
            )
        except ProofError as exc:
            return WitnessError(422, f"not consistent with the last cosigned checkpoint: {exc}")
        return None
