"""C2SP formats: signed notes (with Go's known-answer vector), cosignatures, checkpoints,
receipts and tile paths."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.note import (
    ALG_COSIGNATURE_V1,
    NoteError,
    Signer,
    Verifier,
    open_note,
    sign_note,
)
from ledger.receipt import Receipt, ReceiptError
from ledger.tiles import TilePathError, TileRef, encode_index, parse_tile_path

# golang.org/x/mod/sumdb/note's published example: our signatures must match byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signed_note_matches_go_known_answer() -> None:
    signer = Signer.from_skey(GO_SKEY)
    assert signer.verifier.vkey == GO_VKEY
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    text, sigs = open_note(GO_NOTE, [Verifier.from_vkey(GO_VKEY)])
    assert text == GO_TEXT and sigs[0].verifier.name == "PeterNeumann"


def test_tampered_or_unknown_notes_are_refused() -> None:
    verifier = Verifier.from_vkey(GO_VKEY)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), [verifier])
    other = Signer("PeterNeumann", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(GO_NOTE, [other.verifier])
    for bad in ["no blank line\n", GO_TEXT + "\n", GO_TEXT + "\nnot a signature\n"]:
        with pytest.raises(NoteError):
            open_note(bad, [verifier])


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # truncated
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_vkeys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.from_vkey(vkey)


def test_cosignature_v1_signs_time_and_checkpoint() -> None:
    log_signer = Signer("example.org/log", Ed25519PrivateKey.generate())
    witness = Signer("witness.example/w1", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)
    cp = Checkpoint("example.org/log", 5, b"\x01" * 32).to_text()
    note = sign_note(cp, [log_signer]) + witness.signature_line(cp, 1679315147) + "\n"
    _, sigs = open_note(note, [witness.verifier])
    assert sigs[0].timestamp == 1679315147
    raw = base64.b64decode(sigs[0].line.rsplit(" ", 1)[1])
    assert raw[:4] == witness.verifier.key_id and int.from_bytes(raw[4:12], "big") == 1679315147
    # The witness key id commits to type 0x04, so it never matches as a note key.
    assert base64.b64decode(witness.verifier.vkey.split("+", 2)[2])[0] == ALG_COSIGNATURE_V1
    with pytest.raises(NoteError):
        open_note(note, [Verifier("witness.example/w1", 0x01, witness.verifier.public_key)])
    forged = note.replace("\n5\n", "\n6\n")
    with pytest.raises(NoteError):
        open_note(forged, [witness.verifier])


def test_checkpoint_round_trip_and_errors() -> None:
    cp = Checkpoint("changsha.wangqian.example/filings", 20852163, b"\x07" * 32, ("ext",))
    assert Checkpoint.parse(cp.to_text()) == cp
    for bad in ["a\n01\nAAAA\n", "a\n1\n", "a\n1\nnot base64!\n", "a\n1\nAAAA\n", "a\n-1\nAAAA"]:
        with pytest.raises(CheckpointError):
            Checkpoint.parse(bad)


def test_receipt_round_trip_and_errors() -> None:
    # The form of a signed checkpoint (Receipt.parse checks the form; the verifier the signature).
    cp = f"cp\n73895\n{'A' * 43}=\n\n— x AAAA\n"
    r = Receipt(73894, (b"\x01" * 32, b"\x02" * 32), cp, b"entry")
    text = r.to_text()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ZW50cnk=\nindex 73894\n")
    assert Receipt.parse(text) == r
    assert Receipt.parse(Receipt(0, (), cp).to_text()) == Receipt(0, (), cp)
    for bad in [
        f"c2sp.org/tlog-proof@v2\nindex 1\n\n{cp}",
        f"c2sp.org/tlog-proof@v1\nindex 01\n\n{cp}",
        f"c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n{cp}",
        "c2sp.org/tlog-proof@v1\nindex 1\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n\ncp\n",
    ]:
        with pytest.raises(ReceiptError):
            Receipt.parse(bad)


def test_tile_paths() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(7) == "007"
    assert parse_tile_path("0/x001/x234/067") == TileRef(0, 1234067, 256)
    assert parse_tile_path("entries/007.p/5") == TileRef(None, 7, 5)
    assert TileRef(2, 1000, 17).path == "tile/2/x001/000.p/17"
    for bad in ["0/7", "0/x7/007", "00/007", "64/007", "0/007.p/0", "0/007.p/256", "x/007", "0"]:
        with pytest.raises(TilePathError):
            parse_tile_path(bad)
