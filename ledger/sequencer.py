"""The sequencer: integrates pending entries, signs checkpoints, gathers cosignatures.

With several processes on PostgreSQL only the holder of the sequencer lock runs
(``run``); everyone may append. Witnesses are asked in parallel; a checkpoint is
kept whatever they answer, and its cosignatures are whatever verified.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import text

from ledger.add_checkpoint import AddCheckpoint
from ledger.checkpoint import Checkpoint
from ledger.log import Log, StoredCheckpoint
from ledger.note import NoteError, Signer, Verifier, open_note, sign_note
from ledger.status_map import MAP_LINE, map_line
from ledger.status_store import StatusMapStore

log = logging.getLogger(__name__)

REWITNESS_INTERVAL = 2.0  # seconds between offers of an under-witnessed checkpoint
# PostgreSQL notifications between the processes of a deployment, on the log's own channel
# (``Log.locks``): "checkpoint <size>" from the sequencer to every process's waiters,
# "appended" from waiters to the sequencer.


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks for cosignatures: its key and submission prefix."""

    verifier: Verifier
    url: str


class WitnessUnavailable(Exception):
    """A witness refused or could not be reached."""


class HttpWitnessClient:
    """Speaks tlog-witness add-checkpoint to one witness, tracking its last size."""

    def __init__(self, endpoint: WitnessEndpoint, timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.known_size = 0
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def cosign(self, log_: Log, note: str, size: int) -> str:
        """Return this witness's verified cosignature line for ``note``."""
        for _ in range(2):  # at most once more, after a 409 taught us the witness's size
            old = self.known_size if self.known_size <= size else 0
            proof = log_.consistency_proof(old, size) if 0 < old < size else []
            body = AddCheckpoint(old, tuple(proof), note).to_text()
            try:
                resp = self._client.post(
                    self.endpoint.url.rstrip("/") + "/add-checkpoint", content=body.encode()
                )
            except httpx.HTTPError as exc:
                raise WitnessUnavailable(f"{self.endpoint.verifier.name}: {exc}") from exc
            if resp.status_code == 409 and resp.headers.get("content-type", "").startswith(
                "text/x.tlog.size"
            ):
                self.known_size = int(resp.text.strip() or 0)
                continue
            if resp.status_code != 200:
                raise WitnessUnavailable(
                    f"{self.endpoint.verifier.name} answered {resp.status_code}: {resp.text[:200]}"
                )
            try:
                _, verified = open_note(note + resp.text, [self.endpoint.verifier])
            except NoteError as exc:
                raise WitnessUnavailable(f"{self.endpoint.verifier.name}: {exc}") from exc
            self.known_size = size
            return verified[0].line
        raise WitnessUnavailable(f"{self.endpoint.verifier.name}: size keeps changing")


class Sequencer:
    def __init__(
        self,
        log_: Log,
        signers: Sequence[Signer],
        origin: str,
        witnesses: Sequence[WitnessEndpoint] = (),
        threshold: int = 0,
        status_map: StatusMapStore | None = None,
    ) -> None:
        if threshold > len(witnesses):
            raise ValueError(
                f"policy needs {threshold} cosignatures but has {len(witnesses)} witnesses"
            )
        self.log = log_
        if not signers:
            raise ValueError("a sequencer needs at least one log key")
        self.signers = list(signers)
        self.origin = origin
        self.threshold = threshold
        # With a status map, every checkpoint commits to its root as of the checkpoint's size.
        self.status_map = status_map
        self._clients = [HttpWitnessClient(w) for w in witnesses]
        self._lock = threading.Lock()
        # In-process waiters are told of each new checkpoint instead of polling the database;
        # appenders in this process can wake the loop instead of waiting out its interval.
        self.checkpointed = threading.Condition()
        self.wake = threading.Event()
        # The newest checkpoint this process issued or read: any checkpoint at least as big
        # as an entry's index proves it, and steps with nothing new need not ask the database.
        self._latest: StoredCheckpoint | None = None
        self._last_issue = 0.0
        self.leading = False  # this process holds the sequencer lock and steps

    def close(self) -> None:
        for c in self._clients:
            c.close()

    def step(self) -> StoredCheckpoint | None:
        """Integrate what is pending and, if the tree grew, issue a checkpoint.

        A checkpoint short of the witness threshold (a witness was down) is offered to
        the witnesses again, at most every ``REWITNESS_INTERVAL`` seconds, until it has
        its cosignatures: receipts are only as good as the policy their checkpoint meets.
        """
        with self._lock:
            size = self.log.integrate()
            latest = self._latest
            if latest is None or latest.size != size:
                latest = self.log.latest_checkpoint()  # another process may have issued it
            if latest is not None and latest.size == size:
                self._seen(latest)
                complete = self.witnessed(latest) and not self._lacks_map(latest)
                if complete or not self._rewitness_due():
                    return None
            issued = self._issue(size)
            self._seen(issued)
        with self.checkpointed:
            self.checkpointed.notify_all()
        return issued

    def wait_for(self, size: int, timeout: float, poll: float = 0.2) -> StoredCheckpoint | None:
        """The first witnessed checkpoint covering ``size`` entries (one that meets the
        witness threshold), waiting up to ``timeout`` seconds.

        Woken by this process's checkpoints and, through ``listen``, by those the elected
        sequencer issues in another process; polls every ``poll`` seconds all the same.
        """
        deadline = time.monotonic() + timeout
        asked = False
        while True:
            cp = self._latest
            if cp is None or cp.size < size or not self.witnessed(cp):
                cp = self.log.latest_checkpoint(cosigned_by=self.threshold)
                if cp is not None:
                    self._seen(cp)
            if cp is not None and cp.size >= size and self.witnessed(cp):
                return cp
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.wake.set()
            if not asked and not self.leading:
                self._tell_sequencer()
                asked = True
            with self.checkpointed:
                self.checkpointed.wait(min(remaining, poll))

    def listen(self, stop: threading.Event) -> None:
        """Relay the other processes' notifications until ``stop`` (PostgreSQL; else returns).

        A checkpoint the elected sequencer issued wakes this process's waiters at once,
        and a waiter elsewhere wakes this process's loop if it is the sequencer.
        """
        engine = self.log.engine
        if engine.dialect.name != "postgresql":
            return
        while not stop.is_set():
            try:
                raw = engine.raw_connection()
                conn = raw.driver_connection
                raw.detach()  # it stays in LISTEN mode: never back into the pool
                try:
                    assert conn is not None
                    conn.rollback()  # the pool's checkout may have begun a transaction
                    conn.autocommit = True
                    conn.execute(f"LISTEN {self.log.locks.channel}")
                    while not stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._heard(note.payload)
                finally:
                    raw.close()
            except Exception:
                log.exception("listening for log notifications failed; retrying")
                stop.wait(1.0)

    def _heard(self, payload: str) -> None:
        if payload == "appended":
            if self.leading:
                self.wake.set()
            return
        with self.checkpointed:
            self.checkpointed.notify_all()

    def appended(self) -> None:
        """Something was appended that nobody waits for: step soon, wherever the loop runs."""
        self.wake.set()
        if not self.leading:
            self._tell_sequencer()

    def _tell_sequencer(self) -> None:
        """Wake the elected sequencer in whichever process it runs (PostgreSQL)."""
        engine = self.log.engine
        if engine.dialect.name != "postgresql":
            return
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_notify(:c, 'appended')"), {"c": self.log.locks.channel})
            conn.commit()

    def witnessed(self, cp: StoredCheckpoint) -> bool:
        """``cp`` carries the cosignatures the deployment's witness policy asks for."""
        return len(cp.cosignatures) >= self.threshold

    def _lacks_map(self, cp: StoredCheckpoint) -> bool:
        """A checkpoint from before this log kept a status map: its tree is signed again
        with the map line, so that status proofs need not wait for the next entry."""
        return self.status_map is not None and f"\n{MAP_LINE} " not in cp.note

    def _rewitness_due(self) -> bool:
        return time.monotonic() - self._last_issue >= REWITNESS_INTERVAL

    def _seen(self, cp: StoredCheckpoint) -> None:
        latest = self._latest
        if (
            latest is None
            or cp.size > latest.size
            or (cp.size == latest.size and len(cp.cosignatures) > len(latest.cosignatures))
        ):
            self._latest = cp

    def _issue(self, size: int) -> StoredCheckpoint:
        self._last_issue = time.monotonic()
        extensions: tuple[str, ...] = ()
        if self.status_map is not None:
            extensions = (map_line(self.status_map.update_to(size)),)
        cp = Checkpoint(self.origin, size, self.log.root_hash(size), extensions)
        note = sign_note(cp.to_text(), self.signers)
        # Witnesses first: the checkpoint is kept with its cosignatures in one transaction,
        # so no reader in another process sees it without them.
        lines = self._cosign(note, size)
        if len(lines) < self.threshold:
            log.warning(
                "checkpoint %d has %d of %d required cosignatures", size, len(lines), self.threshold
            )
        return self.log.record_checkpoint(
            size, cp.root_hash, note, lines, notify=self.log.locks.channel
        )

    def _cosign(self, note: str, size: int) -> list[tuple[str, str]]:
        if not self._clients:
            return []

        def ask(client: HttpWitnessClient) -> tuple[str, str] | None:
            try:
                return client.endpoint.verifier.name, client.cosign(self.log, note, size)
            except WitnessUnavailable as exc:
                log.warning("no cosignature: %s", exc)
                return None

        with ThreadPoolExecutor(max_workers=len(self._clients)) as pool:
            answers = list(pool.map(ask, self._clients))
        return [a for a in answers if a is not None]

    def run(self, stop: threading.Event, interval: float = 0.25) -> None:
        """Step until ``stop`` is set, while holding the sequencer lock (PostgreSQL).

        Waiters wake the loop at once (in this process, or through ``listen``); the
        interval only bounds how long an append nobody waits for (a cancellation, an
        access-log anchor) stays pending. Each step costs a few queries, so a shorter one
        spends CPU the signature pipelines need (a 50 ms interval cost 7 % of filings/s).
        """
        engine = self.log.engine
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # A session-level lock held for as long as this process sequences.
                while not stop.is_set():
                    got = conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": self.log.locks.sequencer}
                    ).scalar()
                    conn.commit()
                    if got:
                        break
                    stop.wait(1.0)
            self.leading = not stop.is_set()
            try:
                while not stop.is_set():
                    try:
                        self.step()
                    except Exception:
                        log.exception("sequencer step failed; retrying")
                        stop.wait(1.0)
                    self.wake.wait(interval)
                    self.wake.clear()
                if self.leading:
                    self.step()  # a clean stop leaves nothing appended outside a checkpoint
            except Exception:
                log.exception("the last sequencer step failed; the next start integrates it")
            finally:
                self.leading = False
