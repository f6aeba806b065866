"""Secrets at rest: key files under scrypt, a private data directory, no service on the
development passphrase."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api.witness_app import open_witness_dir
from filing.deployment import Deployment
from keys import keyfile
from keys.store import PASSPHRASE_ENV, FileKeyStore, KeyStoreError, WrongPassphrase
from tests.helpers import BIN, free_port, stop, wait_http, wangqian

PASS = b"a passphrase for tests"


def _kdf(path: Path) -> tuple[str, dict[str, object]]:
    """The key derivation a PKCS#8 file names, read with asn1crypto (not our parser)."""
    _, _, der = asn1_pem.unarmor(path.read_bytes())
    info = asn1_keys.EncryptedPrivateKeyInfo.load(der)
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]
    return kdf["algorithm"].dotted, kdf["parameters"].native


def _same(a: object, b: object) -> bool:
    def der(k: object) -> bytes:
        return k.private_bytes(  # type: ignore[attr-defined,no-any-return]
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    return der(a) == der(b)


def test_key_files_are_pkcs8_under_scrypt_at_the_owasp_cost(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys", PASS)
    key = store.ec_p256("seal")
    path = tmp_path / "keys" / "seal.pem"
    oid, params = _kdf(path)
    assert oid == keyfile.SCRYPT  # was PBKDF2 with 2,048 iterations
    # RFC 7914 section 7: salt, N, r, p, key length (asn1crypto knows no names for them).
    assert isinstance(params, dict)
    assert list(params.values())[1:] == [2**17, 8, 1, 32]
    # Standard PKCS#8: the library's own reader opens it with the passphrase alone.
    again = serialization.load_pem_private_key(path.read_bytes(), PASS)
    assert _same(again, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        FileKeyStore(tmp_path / "keys", b"not it").ec_p256("seal")


def test_a_file_of_the_old_encryption_is_rewritten_once_with_the_same_key(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir()
    old_key = ec.generate_private_key(ec.SECP256R1())
    path = directory / "seal.pem"
    # Exactly what the previous release wrote: BestAvailableEncryption, PBKDF2 at 2,048.
    path.write_bytes(
        old_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASS),
        )
    )
    os.chmod(path, 0o600)
    old_bytes = path.read_bytes()
    oid, _ = _kdf(path)
    assert oid == "1.2.840.113549.1.5.12"  # PBKDF2

    # A wrong passphrase leaves the old file as it was.
    with pytest.raises(WrongPassphrase):
        FileKeyStore(directory, b"not it").ec_p256("seal", create=False)
    assert path.read_bytes() == old_bytes

    loaded = FileKeyStore(directory, PASS).ec_p256("seal", create=False)
    assert _same(loaded, old_key)
    assert _kdf(path)[0] == keyfile.SCRYPT
    assert sorted(p.name for p in directory.iterdir()) == ["seal.pem"]  # no temporary left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    upgraded = path.read_bytes()
    # The next process reads the new file as it is: the upgrade happens once.
    assert _same(FileKeyStore(directory, PASS).ec_p256("seal", create=False), old_key)
    assert path.read_bytes() == upgraded


def test_an_unencrypted_key_file_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir()
    (directory / "seal.pem").write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyStoreError, match="is not encrypted"):
        FileKeyStore(directory, PASS).ec_p256("seal", create=False)


def test_the_key_derivation_runs_once_per_process_not_once_per_key(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    store = FileKeyStore(directory, PASS)
    for name in ("a", "b", "c", "d"):
        store.ec_p256(name)
    salts = {keyfile.salt_of((directory / f"{n}.pem").read_bytes()) for n in "abcd"}
    assert len(salts) == 1 and None not in salts  # one store, one salt, an IV per file
    derived = len(keyfile._keks)
    # Another store over the same directory (another request, another deployment object
    # in this process) decrypts every file without deriving again.
    other = FileKeyStore(directory, PASS)
    for name in ("a", "b", "c", "d"):
        other.ec_p256(name, create=False)
    assert len(keyfile._keks) == derived


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _secret_paths(data: Path) -> list[Path]:
    return [
        data / "config.json",
        *(data / f"wangqian.db{s}" for s in ("", "-wal", "-shm")),
        *(data / "keys").glob("*.pem"),
        data / "keys" / "passphrase",
        data / "pki" / "registry.sqlite",
    ]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most common umask: everything is world-readable unless created otherwise."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _opened(data: Path) -> Deployment:
    """A deployment with its keys, certificates and a database write (the WAL exists while open)."""
    d = Deployment.open(data)
    d.pki.filing_seal_certificate()
    d.log.append(b"an entry")
    return d


def test_a_new_data_directory_is_private_to_its_owner(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANGQIAN_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    with _opened(data):
        assert _mode(data) == 0o700 and _mode(data / "keys") == 0o700
        secrets = _secret_paths(data)
        assert all(p.exists() for p in secrets), [str(p) for p in secrets if not p.exists()]
        assert {str(p.relative_to(data)): _mode(p) for p in secrets} == {
            str(p.relative_to(data)): 0o600 for p in secrets
        }


def test_an_older_deployment_is_tightened_when_opened(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANGQIAN_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    with _opened(data):
        # As a previous release left it: directories 0755, files 0644.
        for directory in (data, data / "keys", data / "pki"):
            os.chmod(directory, 0o755)
        for path in _secret_paths(data):
            os.chmod(path, 0o644)
        with _opened(data):
            assert _mode(data) == 0o700 and _mode(data / "keys") == 0o700
            assert {str(p.relative_to(data)): _mode(p) for p in _secret_paths(data)} == {
                str(p.relative_to(data)): 0o600 for p in _secret_paths(data)
            }


def test_a_witness_directory_is_private_too(tmp_path: Path, open_umask: None) -> None:
    witness = open_witness_dir(tmp_path / "w", "w.example", [])
    try:
        witness_dir = tmp_path / "w"
        assert _mode(witness_dir) == 0o700 and _mode(witness_dir / "keys") == 0o700
        assert _mode(witness_dir / "witness.db") == 0o600
        assert _mode(witness_dir / "keys" / "witness-ed25519.pem") == 0o600
    finally:
        witness.close()


def _without_passphrase() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != PASSPHRASE_ENV}


@pytest.mark.parametrize(
    "command",
    [["serve"], ["serve", "--workers", "2"], ["witness", "--port", "7999"]],
    ids=["serve", "serve-workers", "witness"],
)
def test_services_refuse_the_development_passphrase(tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "data"
    base = [str(BIN / "wangqian"), command[0], "--data", str(data), *command[1:]]
    run = subprocess.run(
        base, capture_output=True, text=True, env=_without_passphrase(), timeout=60
    )
    assert run.returncode == 2
    [line] = run.stderr.strip().splitlines()
    assert PASSPHRASE_ENV in line and "--insecure-dev-passphrase" in line
    assert not data.exists()  # refused before anything was created

    # The environment holding the development passphrase is the same thing.
    if command[0] == "witness":
        open_witness_dir(data, None, []).close()
    else:
        _opened(data).close()
    dev = (data / "keys" / "passphrase").read_text()
    run = subprocess.run(
        base,
        capture_output=True,
        text=True,
        env={**_without_passphrase(), PASSPHRASE_ENV: dev},
        timeout=60,
    )
    assert run.returncode == 2 and PASSPHRASE_ENV in run.stderr


def test_serve_runs_on_a_real_passphrase_and_warns_on_the_flag(tmp_path: Path) -> None:
    port = free_port()
    real = wangqian(
        "serve", "--data", str(tmp_path / "a"), "--port", str(port),
        env={PASSPHRASE_ENV: "correct horse battery staple"},
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/log/vkey", real, timeout=60)
    finally:
        stop(real)
    assert not (tmp_path / "a" / "keys" / "passphrase").exists()
    out = real.stdout.read() if real.stdout else ""
    assert "WARNING" not in out

    port = free_port()
    flagged = subprocess.Popen(
        [
            *(str(BIN / "wangqian"), "serve", "--insecure-dev-passphrase"),
            *("--data", str(tmp_path / "b"), "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_without_passphrase(),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/log/vkey", flagged, timeout=60)
    finally:
        stop(flagged)
    out = flagged.stdout.read() if flagged.stdout else ""
    assert "WARNING: --insecure-dev-passphrase" in out and PASSPHRASE_ENV in out
