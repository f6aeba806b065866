"""C2SP signed-note (Ed25519, type 0x01) and tlog-cosignature/v1 (Ed25519, type 0x04).

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID || signature)``. Verifier keys travel as vkeys:
``<name>+<hex key ID>+base64(type || public key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
SIG_PREFIX = "— "  # U+2014 EM DASH, then a space
MAX_NOTE_SIZE = 1 << 20


class NoteError(ValueError):
    """A note, key or signature is malformed or does not verify."""


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}: no spaces or '+' allowed")


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A trusted public key under a name: an Ed25519 note key or a cosigner key."""

    name: str
    alg: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.alg, self.public_key)

    @property
    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a vkey is <name>+<hex key id>+<base64 key>")
        name, hex_id, material = parts
        _check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            wanted_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError) as exc:
            raise NoteError(f"malformed vkey: {exc}") from exc
        if len(hex_id) != 8 or len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError("only Ed25519 note (0x01) and cosignature (0x04) vkeys are supported")
        verifier = cls(name, raw[0], raw[1:])
        if verifier.key_id != wanted_id:
            raise NoteError(f"vkey {name}: key ID does not match the key")
        return verifier

    def _ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def verify_signature(self, text: str, blob: bytes) -> int | None:
        """Check one signature blob (key ID stripped) over ``text``.

        Returns the cosignature timestamp for type 0x04, None for type 0x01.
        """
        try:
            if self.alg == ALG_ED25519:
                if len(blob) != 64:
                    raise NoteError("Ed25519 signature must be 64 bytes")
                self._ed25519().verify(blob, text.encode())
                return None
            if len(blob) != 72:
                raise NoteError("cosignature must be an 8-byte timestamp and 64 bytes")
            timestamp = int.from_bytes(blob[:8], "big")
            if timestamp >= 1 << 63:
                raise NoteError("cosignature timestamp out of range")
            self._ed25519().verify(blob[8:], cosigned_message(text, timestamp))
            return timestamp
        except InvalidSignature as exc:
            raise NoteError(f"signature by {self.name} does not verify") from exc


class Signer:
    """An Ed25519 private key that signs notes (0x01) or cosigns checkpoints (0x04)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, alg: int = ALG_ED25519) -> None:
        _check_name(name)
        if alg not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError(f"unsupported signature type {alg:#x}")
        self.name = name
        self.alg = alg
        self._key = private_key
        self.verifier = Verifier(name, alg, _raw_public(private_key.public_key()))

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse Go's ``PRIVATE+KEY+<name>+<hex id>+base64(type || seed)`` form."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<hex id>+<base64>")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except binascii.Error as exc:
            raise NoteError(f"malformed signer key: {exc}") from exc
        if len(raw) != 33:
            raise NoteError("signer key must hold a type byte and a 32-byte seed")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]), raw[0])
        if signer.verifier.key_id.hex() != parts[3]:
            raise NoteError("signer key ID does not match the key")
        return signer

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """The ``— name base64`` line (no newline) signing ``text``."""
        if self.alg == ALG_ED25519:
            blob = self._key.sign(text.encode())
        else:
            ts = int(time.time()) if timestamp is None else timestamp
            blob = ts.to_bytes(8, "big") + self._key.sign(cosigned_message(text, ts))
        return SIG_PREFIX + self.name + " " + base64.b64encode(self.verifier.key_id + blob).decode()


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def sign_note(text: str, signers: list[Signer]) -> str:
    _check_text(text)
    return text + "\n" + "".join(s.signature_line(text) + "\n" for s in signers)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes
    line: str


@dataclass(frozen=True)
class VerifiedSignature:
    verifier: Verifier
    line: str
    timestamp: int | None


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")


def split_note(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and parsed signature lines."""
    if len(note.encode()) > MAX_NOTE_SIZE:
        raise NoteError("note is too large")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no signature block")
    text, block = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("signature block must end with a newline")
    sigs: list[Signature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line[:40]!r}")
        name, _, b64 = line[len(SIG_PREFIX) :].rpartition(" ")
        _check_name(name)
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"malformed signature of {name}") from exc
        if len(raw) < 5:
            raise NoteError(f"signature of {name} is too short")
        sigs.append(Signature(name, raw[:4], raw[4:], line))
    if not sigs:
        raise NoteError("note has no signatures")
    return text, sigs


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, list[VerifiedSignature]]:
    """Verify ``note`` against known keys; unknown keys are ignored.

    Raises NoteError if a signature by a known key fails, or none verifies.
    """
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[VerifiedSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if (sig.name, sig.key_id) in seen:
            raise NoteError(f"two signatures by the same key {sig.name}")
        seen.add((sig.name, sig.key_id))
        timestamp = verifier.verify_signature(text, sig.blob)
        verified.append(VerifiedSignature(verifier, sig.line, timestamp))
    if not verified:
        raise NoteError("no signature by a known key")
    return text, verified
