"""Key files: PKCS#8 ``EncryptedPrivateKeyInfo`` under PBES2 with scrypt and AES-256-CBC.

The encoding is the standard one (RFC 8018 PBES2, RFC 7914 section 7 for scrypt), so
any PKCS#8 reader with scrypt support opens the files. The work factor is the OWASP
Password Storage Cheat Sheet's for scrypt (N = 2^17, r = 8, p = 1: 128 MiB, about a
quarter of a second here), against the 2,048 PBKDF2 iterations that the library's
``BestAvailableEncryption`` writes, which a GPU tries by the million per second.

Deriving the key-encryption key costs that quarter second and 128 MiB, so it is done
once per process for each (passphrase, salt): the files of one store share a salt and
each file has its own IV. The salt's job is to make a precomputed attack useless
across deployments; the files of one store share their passphrase anyway.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core, pem
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

PBES2 = "1.2.840.113549.1.5.13"
SCRYPT = "1.3.6.1.4.1.11591.4.11"
AES256_CBC = "2.16.840.1.101.3.4.1.42"
PEM_TYPE = "ENCRYPTED PRIVATE KEY"


@dataclass(frozen=True)
class ScryptCost:
    n: int
    r: int
    p: int

    def at_least(self, other: ScryptCost) -> bool:
        return self.n >= other.n and self.r >= other.r and self.p >= other.p


# OWASP Password Storage Cheat Sheet (2023-): scrypt N=2^17, r=8, p=1.
COST = ScryptCost(2**17, 8, 1)
# Refused when reading: a file asking for more would take minutes and gigabytes.
MAX_COST = ScryptCost(2**20, 16, 4)


class KeyFileError(ValueError):
    """The bytes are not a key file this module reads (or the passphrase is wrong)."""


class LegacyKeyFile(KeyFileError):
    """An encrypted PKCS#8 file, but not scrypt at ``COST``: readable, due to be rewritten."""


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _ScryptParams(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("salt", core.OctetString),
        ("cost", core.Integer),
        ("block_size", core.Integer),
        ("parallelization", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
    ]


class _Pbes2Params(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("kdf", _AlgorithmIdentifier),
        ("scheme", _AlgorithmIdentifier),
    ]


class _EncryptedPrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", _AlgorithmIdentifier),
        ("data", core.OctetString),
    ]


@dataclass(frozen=True)
class _Parsed:
    salt: bytes
    cost: ScryptCost
    iv: bytes
    ciphertext: bytes


_kek_lock = threading.Lock()
_keks: dict[tuple[bytes, bytes, ScryptCost], bytes] = {}


def key_encryption_key(passphrase: bytes, salt: bytes, cost: ScryptCost = COST) -> bytes:
    """scrypt(passphrase, salt), derived once per process for each passphrase and salt."""
    # Keyed by the passphrase's hash: the cache keeps no second copy of the passphrase.
    ident = (hashlib.sha256(passphrase).digest(), salt, cost)
    with _kek_lock:
        kek = _keks.get(ident)
        if kek is None:
            kek = Scrypt(salt=salt, length=32, n=cost.n, r=cost.r, p=cost.p).derive(passphrase)
            _keks[ident] = kek
        return kek


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def encrypt(key: PrivateKeyTypes, passphrase: bytes, salt: bytes) -> bytes:
    """The key as a PEM ``ENCRYPTED PRIVATE KEY`` (PBES2, scrypt at ``COST``, AES-256-CBC)."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(der) + padder.finalize()
    enc = Cipher(algorithms.AES(key_encryption_key(passphrase, salt)), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(plain) + enc.finalize()
    params = _ScryptParams(
        {
            "salt": salt,
            "cost": COST.n,
            "block_size": COST.r,
            "parallelization": COST.p,
            "key_length": 32,
        }
    )
    pbes2 = _Pbes2Params(
        {
            "kdf": {"algorithm": SCRYPT, "parameters": params},
            "scheme": {"algorithm": AES256_CBC, "parameters": core.OctetString(iv)},
        }
    )
    info = _EncryptedPrivateKeyInfo(
        {"algorithm": {"algorithm": PBES2, "parameters": pbes2}, "data": ciphertext}
    )
    out: bytes = pem.armor(PEM_TYPE, info.dump())
    return out


def _parse(data: bytes) -> _Parsed:
    try:
        kind, _, der = pem.unarmor(data)
    except ValueError as exc:
        raise KeyFileError(f"not a PEM key file: {exc}") from exc
    if kind != PEM_TYPE:
        # Another PEM form (traditional OpenSSL, or unencrypted): the library judges it.
        raise LegacyKeyFile(f"a {kind!r} PEM block, not PKCS#8 encrypted")
    try:
        info = _EncryptedPrivateKeyInfo.load(der)
        alg = info["algorithm"]
        if alg["algorithm"].dotted != PBES2:
            raise LegacyKeyFile("not PBES2")
        pbes2 = _Pbes2Params.load(alg["parameters"].dump())
        kdf, scheme = pbes2["kdf"], pbes2["scheme"]
        if kdf["algorithm"].dotted != SCRYPT or scheme["algorithm"].dotted != AES256_CBC:
            raise LegacyKeyFile("PBES2 with another key derivation or cipher")
        params = _ScryptParams.load(kdf["parameters"].dump())
        cost = ScryptCost(
            int(params["cost"].native),
            int(params["block_size"].native),
            int(params["parallelization"].native),
        )
        key_length = params["key_length"].native
        iv = core.OctetString.load(scheme["parameters"].dump()).native
        parsed = _Parsed(bytes(params["salt"].native), cost, bytes(iv), bytes(info["data"].native))
    except LegacyKeyFile:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFileError(f"damaged key file: {exc}") from exc
    if key_length not in (None, 32) or len(parsed.iv) != 16:
        raise LegacyKeyFile("scrypt for a key length other than AES-256's")
    if not MAX_COST.at_least(parsed.cost):
        raise KeyFileError(f"scrypt cost {parsed.cost} is beyond what a key file may ask")
    if not parsed.cost.at_least(COST):
        raise LegacyKeyFile(f"scrypt cost {parsed.cost} is below {COST}")
    return parsed


def salt_of(data: bytes) -> bytes | None:
    """The salt of a current key file, or None if it is not one."""
    try:
        return _parse(data).salt
    except KeyFileError:
        return None


def decrypt(data: bytes, passphrase: bytes) -> PrivateKeyTypes:
    """The key in a current key file; ``LegacyKeyFile`` for an older encryption.

    A wrong passphrase shows as bad padding or a DER that does not parse:
    ``KeyFileError`` either way, as with any PKCS#8 reader.
    """
    parsed = _parse(data)
    kek = key_encryption_key(passphrase, parsed.salt, parsed.cost)
    dec = Cipher(algorithms.AES(kek), modes.CBC(parsed.iv)).decryptor()
    try:
        plain = dec.update(parsed.ciphertext) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        der = unpadder.update(plain) + unpadder.finalize()
        return serialization.load_der_private_key(der, None)
    except ValueError as exc:
        raise KeyFileError("cannot decrypt: wrong passphrase or damaged file") from exc
