"""Private keys kept as PKCS#8 PEM files encrypted with a passphrase (``keys.keyfile``).

Keys are created once and never replaced by another key: a second process racing
to create the same key loses cleanly and loads the winner's. A file encrypted by
an older release (PBKDF2 with 2,048 iterations) is rewritten on first use with the
same key under scrypt, by an atomic rename.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from keys import keyfile
from keys.private_files import private_directory

PASSPHRASE_ENV = "WANGQIAN_KEY_PASSPHRASE"
DEVELOPMENT_FILE = "passphrase"

log = logging.getLogger(__name__)


class KeyStoreError(Exception):
    """A key cannot be loaded or stored."""


class WrongPassphrase(KeyStoreError):
    """The passphrase does not decrypt the key file."""


class MissingKey(KeyStoreError):
    """No key of that name exists and creating one was not asked for."""


class DevelopmentPassphrase(KeyStoreError):
    """A service was asked to run on the development passphrase kept beside its keys."""


@dataclass(frozen=True)
class Passphrase:
    value: bytes
    # Generated into the key directory: whoever reads the directory reads the keys.
    development: bool


def passphrase_for(key_dir: Path) -> Passphrase:
    """The passphrase from the environment, or else this directory's development passphrase.

    The development passphrase is generated once into ``key_dir/passphrase``
    (mode 0600) so that the embedded default runs with no setup; production sets
    the environment variable and keeps no passphrase on disk. The environment's
    passphrase counts as the development one if it is the same.
    """
    path = key_dir / DEVELOPMENT_FILE
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        value = env.encode()
        try:
            development = path.read_bytes().strip() == value
        except FileNotFoundError:
            development = False
        return Passphrase(value, development)
    private_directory(key_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Passphrase(path.read_bytes().strip(), True)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_urlsafe(32).encode())
    return Passphrase(path.read_bytes().strip(), True)


def resolve_passphrase(key_dir: Path) -> bytes:
    """``passphrase_for(key_dir).value``."""
    return passphrase_for(key_dir).value


def require_production_passphrase(key_dir: Path) -> None:
    """Refuse (``DevelopmentPassphrase``) unless ``WANGQIAN_KEY_PASSPHRASE`` is set for real.

    Reads only: a service refused here has created nothing.
    """
    env = os.environ.get(PASSPHRASE_ENV)
    path = key_dir / DEVELOPMENT_FILE
    if env:
        try:
            same = path.read_bytes().strip() == env.encode()
        except FileNotFoundError:
            return
        if not same:
            return
        where = f"{PASSPHRASE_ENV} is the development passphrase in {path}"
    else:
        where = f"{PASSPHRASE_ENV} is not set, so the keys would open with {path}"
    raise DevelopmentPassphrase(
        f"refusing to run on the development passphrase: {where}; set {PASSPHRASE_ENV} "
        "(or give --insecure-dev-passphrase to try it out locally)"
    )


class FileKeyStore:
    def __init__(self, directory: Path, passphrase: bytes) -> None:
        if not passphrase:
            raise KeyStoreError("an empty passphrase would leave keys unencrypted")
        self.directory = directory
        self._passphrase = passphrase
        # A key file's key never changes (an upgrade rewrites the same key), so a
        # decrypted key stays this file's key.
        self._loaded: dict[str, PrivateKeyTypes] = {}
        self._lock = threading.Lock()
        self._write_salt: bytes | None = None

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
        data = path.read_bytes()
        try:
            return keyfile.decrypt(data, self._passphrase)
        except keyfile.LegacyKeyFile:
            pass
        except keyfile.KeyFileError as exc:
            raise WrongPassphrase(f"cannot decrypt {path}: {exc}") from exc
        try:
            key = serialization.load_pem_private_key(data, self._passphrase)
        except ValueError as exc:
            raise WrongPassphrase(
                f"cannot decrypt {path}: wrong passphrase or damaged file"
            ) from exc
        except TypeError as exc:  # "Password was given but private key is not encrypted"
            raise KeyStoreError(f"{path} is not encrypted; refusing to use it") from exc
        self._upgrade(path, key)
        return key

    def _salt(self) -> bytes:
        """The salt this store encrypts with: that of its current files, if any."""
        with self._lock:
            if self._write_salt is None:
                for existing in sorted(self.directory.glob("*.pem")):
                    salt = keyfile.salt_of(existing.read_bytes())
                    if salt is not None:
                        self._write_salt = salt
                        break
                else:
                    self._write_salt = keyfile.new_salt()
            return self._write_salt

    def _encrypted(self, key: PrivateKeyTypes) -> bytes:
        return keyfile.encrypt(key, self._passphrase, self._salt())

    def _write_temporary(self, path: Path, data: bytes) -> Path:
        # Unique per thread too: requests in one process may create the same key at once.
        tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def _upgrade(self, path: Path, key: PrivateKeyTypes) -> None:
        """Rewrite an older release's file with the same key under scrypt (atomic rename)."""
        pem = self._encrypted(key)
        if keyfile.decrypt(pem, self._passphrase).private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) != key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ):
            raise KeyStoreError(f"re-encrypting {path} did not round-trip; left as it was")
        tmp = self._write_temporary(path, pem)
        # A racing process may upgrade the same file: both write the same key, and a
        # reader sees one whole file or the other.
        os.replace(tmp, path)
        _fsync_directory(self.directory)
        log.warning("re-encrypted %s with scrypt (it used an older, weaker encryption)", path)

    def _create(self, path: Path, key: PrivateKeyTypes) -> None:
        private_directory(self.directory)
        tmp = self._write_temporary(path, self._encrypted(key))
        try:
            os.link(tmp, path)  # fails if the key exists: never overwrite
        except FileExistsError:
            pass
        finally:
            tmp.unlink()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
