"""Crash-test worker: appends, integrates and checkpoints in a loop until killed.

Prints ``ACK first last`` after each append returned (the entries are then
acknowledged) and ``INT old new`` after each batch it integrated.
"""

from __future__ import annotations

import random
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint
from ledger.log import Log
from ledger.note import Signer, sign_note


def main() -> None:
    url, seed_hex, origin, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    signer = Signer(origin, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)))
    log = Log.open(url)
    rng = random.Random()
    for i in range(rounds):
        n = rng.randint(1, 40)
        indices = log.append_many([rng.randbytes(rng.randint(1, 200)) for _ in range(n)])
        print(f"ACK {indices[0]} {indices[-1]}", flush=True)
        if i % 3 == 0:
            done = log.integrate_batch(batch_size=rng.randint(1, 100))
            if done is not None and done[1] > done[0]:
                print(f"INT {done[0]} {done[1]}", flush=True)
                size = done[1]
                cp = Checkpoint(origin, size, log.root_hash(size)).to_text()
                log.record_checkpoint(size, log.root_hash(size), sign_note(cp, [signer]))
    log.close()


if __name__ == "__main__":
    main()
