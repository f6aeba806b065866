"""Private keys kept as PKCS#8 PEM files encrypted with a passphrase.

Keys are created once and never overwritten: a second process racing to create
the same key loses cleanly and loads the winner's.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

PASSPHRASE_ENV = "WANGQIAN_KEY_PASSPHRASE"


class KeyStoreError(Exception):
    """A key cannot be loaded or stored."""


class WrongPassphrase(KeyStoreError):
    """The passphrase does not decrypt the key file."""


class MissingKey(KeyStoreError):
    """No key of that name exists and creating one was not asked for."""


def resolve_passphrase(key_dir: Path) -> bytes:
    """The passphrase from the environment, or else this directory's development passphrase.

    The development passphrase is generated once into ``key_dir/passphrase``
    (mode 0600) so that the embedded default runs with no setup; production sets
    the environment variable and keeps no passphrase on disk.
    """
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode()
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / "passphrase"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_urlsafe(32).encode())
    return path.read_bytes().strip()


class FileKeyStore:
    def __init__(self, directory: Path, passphrase: bytes) -> None:
        if not passphrase:
            raise KeyStoreError("an empty passphrase would leave keys unencrypted")
        self.directory = directory
        self._passphrase = passphrase
        # Key files are never overwritten, so a decrypted key stays this file's key.
        self._loaded: dict[str, PrivateKeyTypes] = {}

    def _path(self, name: str) -> Path:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise KeyStoreError(f"invalid key name {name!r}")
        return self.directory / f"{name}.pem"

    def ed25519(self, name: str, create: bool = True) -> Ed25519PrivateKey:
        """Load the Ed25519 key ``name``, creating it on first use if ``create``."""
        key = self._load_or_create(name, Ed25519PrivateKey.generate if create else None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"key {name!r} is not an Ed25519 key")
        return key

    def ec_p256(self, name: str, create: bool = True) -> ec.EllipticCurvePrivateKey:
        """Load the ECDSA P-256 key ``name``, creating it on first use if ``create``."""
        key = self._load_or_create(
            name, (lambda: ec.generate_private_key(ec.SECP256R1())) if create else None
        )
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError(f"key {name!r} is not an EC key")
        return key

    def ec_public_key(self, label: str, create: bool = True) -> ec.EllipticCurvePublicKey:
        return self.ec_p256(label, create).public_key()

    @contextmanager
    def signer(
        self, label: str, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
    ) -> Iterator[Any]:
        from keys.signers import key_signer

        yield key_signer(self.ec_p256(label, create=False), certificate, chain)

    def _load_or_create(
        self, name: str, factory: Callable[[], PrivateKeyTypes] | None
    ) -> PrivateKeyTypes:
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        path = self._path(name)
        if not path.exists():
            if factory is None:
                raise MissingKey(f"no key {name!r} in {self.directory}")
            self._create(path, factory())
        key = self._loaded[name] = self._load(path)
        return key

    def _load(self, path: Path) -> PrivateKeyTypes:
        try:
            return serialization.load_pem_private_key(path.read_bytes(), self._passphrase)
        except ValueError as exc:
            raise WrongPassphrase(
                f"cannot decrypt {path}: wrong passphrase or damaged file"
            ) from exc

    def _create(self, path: Path, key: PrivateKeyTypes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        # Unique per thread too: requests in one process may create the same key at once.
        tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the key exists: never overwrite
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
