"""One deployment's data directory: its configuration, database, keys and log.

``Deployment.open(DIR)`` initialises an empty directory on first use (SQLite
database at the newest schema revision, encrypted log key, config.json) and opens an
existing one as it is; a database at an older schema revision is refused until
``wangqian admin migrate`` has upgraded it (filing/migrations).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import Engine

from filing import invitations
from filing.entry import status_name
from filing.invitation_delivery import SpoolCourier
from filing.migrations import revisions
from filing.seals import PlatformPki
from filing.webhook_policy import AddressPolicy
from keys.authority import CertificateAuthority, pem
from keys.pkcs11 import Pkcs11KeyStore, TokenConfig
from keys.pki import Endpoints
from keys.private_files import private_directory, private_file, private_sqlite
from keys.store import FileKeyStore, resolve_passphrase
from ledger.database import open_engine
from ledger.log import Log, StoredCheckpoint
from ledger.note import ALG_ED25519, Signer, Verifier
from ledger.sequencer import Sequencer, WitnessEndpoint
from ledger.status_store import StatusMapStore
from verifier.trust import TrustBundle

DEFAULT_ORIGIN = "changsha.wangqian.example/filings"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DATABASE_ENV = "WANGQIAN_DATABASE_URL"
LOG_KEY = "log-ed25519"
PSEUDONYM_KEY = "pseudonym.key"  # in keys/: the HMAC key of Deployment.pseudonym
JUDGEMENT_KEY = "judgement.key"  # in keys/: the HMAC key of Deployment.judgement_key


class ConfigError(ValueError):
    """The data directory's configuration is missing or invalid."""


@dataclass(frozen=True)
class WitnessConfig:
    vkey: str
    url: str


@dataclass(frozen=True)
class LogKey:
    """A log signing key in the key store; retired keys stay trusted for what they signed."""

    name: str
    retired: bool = False
    valid_from: str = ""  # ISO 8601 UTC: when it started signing checkpoints
    valid_until: str = ""  # when it stopped (retired); empty while in use


@dataclass(frozen=True)
class DeploymentConfig:
    origin: str = DEFAULT_ORIGIN
    database_url: str = ""  # empty: the SQLite file in the data directory
    witnesses: tuple[WitnessConfig, ...] = ()
    witness_threshold: int = 0
    # Where relying parties reach /ocsp, /crl and /pki: written into every certificate.
    public_url: str = DEFAULT_PUBLIC_URL
    # Seals sign from this PKCS#11 token when set (PIN from WANGQIAN_PKCS11_PIN).
    pkcs11: TokenConfig | None = None
    # Oldest first. Checkpoints are signed by every key not retired, so that during a
    # rotation verifiers holding either the old or the new trust bundle accept them.
    log_keys: tuple[LogKey, ...] = (LogKey(LOG_KEY),)
    filing_seal: str = "filing-seal"  # the seal's slug in pki/ and the key stores
    rate_per_minute: int = 600  # requests per API key (or client address) and minute
    # CPU seconds a minute that one client address may spend on public verifications.
    verification_cpu_seconds: float = 10.0
    # How long an unanswered Idempotency-Key belongs to its request; after that (its
    # process died before its work committed) a retry takes it over and runs again.
    idempotency_lease_seconds: float = 30.0
    # Networks and host names webhooks may reach although internal (filing/webhook_policy.py).
    webhook_allow: tuple[str, ...] = ()
    # The SMS gateway's outgoing spool (smsd's format), on the data directory's file system;
    # empty: DIR/sms/outgoing. Signing invitations reach the parties' phones through it.
    sms_outgoing: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["witnesses"] = [asdict(w) for w in self.witnesses]
        data["log_keys"] = [asdict(k) for k in self.log_keys]
        if self.pkcs11 is not None:
            data["pkcs11"] = {"module": self.pkcs11.module, "token_label": self.pkcs11.token_label}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DeploymentConfig:
        try:
            data: dict[str, Any] = json.loads(text)
            witnesses = tuple(WitnessConfig(w["vkey"], w["url"]) for w in data.get("witnesses", []))
            config = cls(
                origin=str(data.get("origin", DEFAULT_ORIGIN)),
                database_url=str(data.get("database_url", "")),
                witnesses=witnesses,
                witness_threshold=int(data.get("witness_threshold", 0)),
                public_url=str(data.get("public_url", DEFAULT_PUBLIC_URL)),
                log_keys=tuple(
                    LogKey(
                        str(k["name"]),
                        bool(k.get("retired", False)),
                        str(k.get("valid_from", "")),
                        str(k.get("valid_until", "")),
                    )
                    for k in data.get("log_keys", [{"name": LOG_KEY}])
                ),
                filing_seal=str(data.get("filing_seal", "filing-seal")),
                rate_per_minute=_whole_number(data, "rate_per_minute", 600),
                verification_cpu_seconds=_positive(data, "verification_cpu_seconds", 10.0),
                idempotency_lease_seconds=_positive(data, "idempotency_lease_seconds", 30.0),
                webhook_allow=_allow_list(data),
                sms_outgoing=str(data.get("sms_outgoing", "")),
                pkcs11=(
                    TokenConfig(str(data["pkcs11"]["module"]), str(data["pkcs11"]["token_label"]))
                    if data.get("pkcs11")
                    else None
                ),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"config.json is invalid: {exc}") from exc
        for w in config.witnesses:
            Verifier.from_vkey(w.vkey)
        if not any(not k.retired for k in config.log_keys):
            raise ConfigError("config.json needs at least one log key that is not retired")
        if config.sms_outgoing and not Path(config.sms_outgoing).is_absolute():
            # Against the working directory, each process (workers, admin commands) would
            # spool somewhere else.
            raise ConfigError(f"sms_outgoing must be an absolute path, not {config.sms_outgoing!r}")
        if config.rate_per_minute < 1:
            raise ConfigError(f"rate_per_minute must be at least 1, not {config.rate_per_minute}")
        if not 0 <= config.witness_threshold <= len(config.witnesses):
            raise ConfigError(
                f"witness_threshold {config.witness_threshold} needs 0..{len(config.witnesses)}"
            )
        return config


def _allow_list(data: dict[str, Any]) -> tuple[str, ...]:
    entries = data.get("webhook_allow", [])
    if not isinstance(entries, list):
        raise ConfigError(f"webhook_allow must be a list, not {entries!r}")
    AddressPolicy.parse(entries)  # refuses what is neither a network nor a host name
    return tuple(entries)


def _positive(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{key} must be a positive number, not {value!r}")
    return float(value)


def _whole_number(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be a whole number, not {value!r}")
    return value


@dataclass
class Deployment:
    data_dir: Path
    config: DeploymentConfig
    log: Log
    signers: list[Signer]  # the active log keys, newest last
    retired: list[Verifier]
    keys: FileKeyStore
    _sequencer: Sequencer | None = field(default=None, repr=False)
    _local_keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    _pki: PlatformPki | None = field(default=None, repr=False)
    _courier: SpoolCourier | None = field(default=None, repr=False)

    @property
    def pki(self) -> PlatformPki:
        """The CA hierarchy, TSA, OCSP responder and seals (created on first use)."""
        if self._pki is None:
            ca = CertificateAuthority.open(
                self.data_dir / "pki", self.keys, Endpoints(self.config.public_url)
            )
            token = Pkcs11KeyStore(self.config.pkcs11) if self.config.pkcs11 else None
            self._pki = PlatformPki(ca, self.keys, token, self.config.filing_seal)
        return self._pki

    @property
    def courier(self) -> SpoolCourier:
        """The SMS gateway's spool that signing invitations leave through."""
        if self._courier is None:
            # Staged and (by default) outgoing messages carry tokens: the owner's eyes only.
            # A configured outgoing directory is the gateway's, its modes the gateway's too.
            sms = private_directory(self.data_dir / "sms")
            staged = private_directory(sms / "staged")
            outgoing = (
                Path(self.config.sms_outgoing)
                if self.config.sms_outgoing
                else private_directory(sms / "outgoing")
            )
            self._courier = SpoolCourier(staged, outgoing)
        return self._courier

    def settle_staged_messages(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """Send what a process that died after committing left staged, if its invitation
        can still be used (``now``: default the system's time), drop the rest
        (``SpoolCourier.recover``); answers (sent, dropped)."""
        at = now or dt.datetime.now(dt.UTC)
        with self.log.engine.connect() as conn:
            return self.courier.recover(lambda sha256: invitations.committed(conn, sha256, at))

    @classmethod
    def open(cls, data_dir: Path) -> Deployment:
        # Names, ID numbers, party salts, webhook secrets and keys: the owner's eyes only.
        # Directories 0700, secret files 0600; what an older release left readable is
        # tightened here, on every open.
        data_dir = private_directory(data_dir.resolve())
        config_path = data_dir / "config.json"
        if not config_path.exists():
            _write_new(config_path, DeploymentConfig().to_json())
        private_file(config_path)  # its database_url may carry a password
        config = DeploymentConfig.from_json(config_path.read_text(encoding="utf-8"))
        # The schema before the keys: a database this code cannot run on is refused
        # before any key is opened or made; an empty one is brought to the newest revision.
        engine = open_database(data_dir, config)
        try:
            revisions.prepare(engine, f"run `wangqian admin migrate --data {data_dir}`")
            key_dir = private_directory(data_dir / "keys")
            for secret in (*key_dir.glob("*.pem"), key_dir / "passphrase"):
                private_file(secret)
            store = FileKeyStore(key_dir, resolve_passphrase(key_dir))
            signers = [
                Signer(config.origin, store.ed25519(k.name), ALG_ED25519)
                for k in config.log_keys
                if not k.retired
            ]
            retired = [
                Signer(config.origin, store.ed25519(k.name, create=False), ALG_ED25519).verifier
                for k in config.log_keys
                if k.retired
            ]
            return cls(data_dir, config, Log(engine), signers, retired, store)
        except BaseException:
            engine.dispose()
            raise

    @staticmethod
    def database(data_dir: Path) -> Engine:
        """The deployment's database as it is, for ``wangqian admin migrate``: nothing
        else of the directory is opened or created, and its schema is not checked."""
        data_dir = data_dir.resolve()
        if not data_dir.is_dir():
            raise ConfigError(f"no data directory {data_dir}")
        config_path = data_dir / "config.json"
        config = DeploymentConfig()
        if config_path.exists():
            config = DeploymentConfig.from_json(config_path.read_text(encoding="utf-8"))
        return open_database(data_dir, config)

    def save_config(self, config: DeploymentConfig) -> None:
        path = self.data_dir / "config.json"
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        _write_new(tmp, config.to_json())
        tmp.replace(path)
        self.config = config

    @property
    def signer(self) -> Signer:
        """The newest log key."""
        return self.signers[-1]

    @property
    def log_verifier(self) -> Verifier:
        return self.signer.verifier

    def log_verifiers(self) -> list[Verifier]:
        """Every log key this deployment ever used, in config order (oldest first)."""
        active = iter(self.signers)
        retired = iter(self.retired)
        return [next(retired) if k.retired else next(active).verifier for k in self.config.log_keys]

    @functools.cached_property
    def status_map(self) -> StatusMapStore:
        """Each filing's latest event, committed in every checkpoint (docs/formats.md)."""
        return StatusMapStore(self.log, status_name)

    def sequencer(self) -> Sequencer:
        if self._sequencer is None:
            endpoints = [
                WitnessEndpoint(Verifier.from_vkey(w.vkey), w.url) for w in self.config.witnesses
            ]
            self._sequencer = Sequencer(
                self.log,
                self.signers,
                self.config.origin,
                endpoints,
                self.config.witness_threshold,
                status_map=self.status_map,
            )
        return self._sequencer

    def trust_bundle(self) -> dict[str, Any]:
        """What an offline verifier needs to check receipts of this log (see docs/formats.md)."""
        return {
            "version": 1,
            "roots": [pem(self.pki.ca.root).decode()],
            "tsa_roots": self._time_stamp_anchors(),
            "filing_seals": self._filing_seal_certificates(),
            "log": {
                "origin": self.config.origin,
                "keys": [
                    {
                        "vkey": v.vkey,
                        "status": "retired" if k.retired else "active",
                        "valid_from": k.valid_from or None,
                        "valid_until": k.valid_until or None,
                    }
                    for k, v in zip(self.config.log_keys, self.log_verifiers(), strict=True)
                ],
            },
            "witnesses": {
                "threshold": self.config.witness_threshold,
                "keys": [{"vkey": w.vkey} for w in self.config.witnesses],
            },
        }

    def _time_stamp_anchors(self) -> list[str]:
        """The time-stamping unit itself, not the root: the newest document time-stamp must
        validate now, and the CRLs the seal embeds for the CA chain above it go stale in a
        day; an anchor needs none (tests/test_long_term_validation.py). An anchor is never
        checked for revocation either, so a revoked TSA leaves the bundle: its time-stamps,
        and the filings that rest on them, are then proven by nothing."""
        tsa = self.pki.ca.certificate("tsa")
        status = self.pki.ca.status(tsa.serial_number)
        return [] if status is not None and status.revoked else [pem(tsa).decode()]

    def pseudonym(self, value: str) -> str:
        """A stable stand-in for ``value`` (an ID number, say): HMAC under a key of this
        deployment's, so that nobody without the key can test a guess against it."""
        return hmac.new(self._pseudonym_key(), value.encode(), hashlib.sha256).hexdigest()[:16]

    def _pseudonym_key(self) -> bytes:
        return self._local_key(PSEUDONYM_KEY)

    def judgement_key(self) -> bytes:
        """The HMAC key of the platform's stored judgements (filing/judgements.py): kept
        beside the signing keys, never in the database whose rows it vouches for."""
        return self._local_key(JUDGEMENT_KEY)

    def _local_key(self, name: str) -> bytes:
        """A random 32-byte key of this deployment's, in keys/ (made on first use)."""
        if name not in self._local_keys:
            path = self.data_dir / "keys" / name
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(secrets.token_bytes(32))
                except FileExistsError:
                    pass  # another process made it first: read theirs
            self._local_keys[name] = path.read_bytes()
        return self._local_keys[name]

    def trust_bundle_json(self) -> str:
        """The published bytes of the trust bundle (the same everywhere, so that a SHA-256
        of it, as courts pin with ``wangqian-verify --trust-sha256``, is one value)."""
        return json.dumps(self.trust_bundle(), indent=2, ensure_ascii=False) + "\n"

    def bank_issuers(self) -> list[x509.Certificate]:
        """The CA certificates that issue banks' statement certificates."""
        return [self.pki.ca.issuing]

    def verifier_trust(self) -> TrustBundle:
        """The trust bundle as the offline verifier reads it: what the platform judges by."""
        return TrustBundle.from_json(self.trust_bundle_json())

    def _filing_seal_certificates(self) -> list[str]:
        """Every filing seal this deployment has used (rotation keeps the old ones valid)."""
        self.pki.filing_seal_certificate()  # the current one exists before it is exported
        slugs = sorted(
            (p for p in (self.data_dir / "pki").glob("filing-seal*.pem")),
            key=lambda p: (len(p.stem), p.stem),
        )
        return [p.read_text(encoding="ascii") for p in slugs]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.log.latest_checkpoint()

    def latest_witnessed_checkpoint(self) -> StoredCheckpoint | None:
        """The newest checkpoint that meets the witness policy: what receipts are built on
        (one short of cosignatures would make every receipt on it fail verification)."""
        return self.log.latest_checkpoint(cosigned_by=self.config.witness_threshold)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sequencer is not None:
            self._sequencer.close()
        self.log.close()


def open_database(data_dir: Path, config: DeploymentConfig) -> Engine:
    """An engine for the deployment's database: ``$WANGQIAN_DATABASE_URL``, else the
    configured URL, else the SQLite file in the data directory (private to its owner)."""
    url = os.environ.get(DATABASE_ENV) or config.database_url
    url = url or f"sqlite:///{data_dir / 'wangqian.db'}"
    if url.startswith("sqlite:///"):
        private_sqlite(Path(url.removeprefix("sqlite:///")))
    return open_engine(url)


def _write_new(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
