"""The ``wangqian`` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from api.incidents import UVICORN_LOGGING, configure_logging
from filing.migrations import SchemaError
from keys.authority import CertificateError
from keys.store import (
    PASSPHRASE_ENV,
    DevelopmentPassphrase,
    KeyStoreError,
    require_production_passphrase,
)
from ledger.merkle import ProofError
from ledger.note import NoteError, Verifier
from signing.fonts import FontMissing
from signing.pades import SigningError

if TYPE_CHECKING:
    from ledger.map_audit import MapAuditReport

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _demo(args: argparse.Namespace) -> int:
    from api.demo import run_demo

    for line in run_demo(args.data, args.out):
        print(line)
    return EXIT_OK


def _passphrase_allowed(args: argparse.Namespace) -> bool:
    """A long-running service opens its keys with a real passphrase, or says it does not.

    The development passphrase lies beside the keys it protects: whoever copies the
    directory has the keys. Refused unless ``--insecure-dev-passphrase``; nothing is
    created before the refusal.
    """
    key_dir = args.data.resolve() / "keys"
    try:
        require_production_passphrase(key_dir)
    except DevelopmentPassphrase as exc:
        if not args.insecure_dev_passphrase:
            print(f"wangqian: {exc}", file=sys.stderr)
            return False
        print(
            f"wangqian: WARNING: --insecure-dev-passphrase: the keys open with {key_dir}/"
            f"passphrase, which lies beside them; set {PASSPHRASE_ENV} for anything real",
            file=sys.stderr,
            flush=True,
        )
    return True


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app, settle_heap
    from filing.deployment import Deployment

    if not _passphrase_allowed(args):
        return EXIT_USAGE
    if args.workers > 1:
        from api.app import DATA_ENV
        from filing.platform import database_kind

        with Deployment.open(args.data) as deployment:
            dialect = database_kind(deployment)
        if dialect != "postgresql":
            print(
                "several workers need PostgreSQL (set WANGQIAN_DATABASE_URL); SQLite has one "
                "writer",
                file=sys.stderr,
            )
            return EXIT_USAGE
        os.environ[DATA_ENV] = str(args.data.resolve())
        uvicorn.run(
            "api.app:app_from_environment",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="info",
            log_config=UVICORN_LOGGING,
        )
        return EXIT_OK
    with Deployment.open(args.data) as deployment:
        app = create_app(deployment)
        settle_heap()
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level="info",
            log_config=UVICORN_LOGGING,
        )
    return EXIT_OK


def _witness(args: argparse.Namespace) -> int:
    import uvicorn

    from api.witness_app import create_witness_app, open_witness_dir

    if not _passphrase_allowed(args):
        return EXIT_USAGE
    witness = open_witness_dir(args.data, args.name, args.trust_log or [])
    print(f"witness {witness.signer.name}: {witness.signer.verifier.vkey}", flush=True)
    try:
        uvicorn.run(
            create_witness_app(witness),
            host=args.host,
            port=args.port,
            log_level="warning",
            log_config=UVICORN_LOGGING,
        )
    finally:
        witness.close()
    return EXIT_OK


def _map_line(report: MapAuditReport | None) -> str:
    if report is None:
        return "status map: not audited"
    return (
        f"status map: {report.filings} filings; {report.roots_checked} roots, "
        f"{report.nodes_checked} node rows and {report.proofs_checked} served proofs checked"
    )


def _log_audit(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment
    from filing.entry import status_name
    from ledger.audit import audit

    with Deployment.open(args.data) as deployment:
        report = audit(deployment.log, deployment.log_verifiers(), status_name)
    print(
        f"entries {report.entries}, tree size {report.tree_size}, "
        f"nodes checked {report.nodes_checked}, checkpoints checked {report.checkpoints_checked}"
    )
    print(_map_line(report.status_map))
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print("audit passed" if report.ok else f"audit FAILED: {len(report.problems)} problem(s)")
    return EXIT_OK if report.ok else EXIT_FAILED


EXIT_CANNOT_AUDIT = 3


def _audit(args: argparse.Namespace) -> int:
    from filing.deployment import ConfigError, Deployment
    from filing.entry import status_name
    from filing.platform import DatabaseError, Platform
    from ledger.audit import audit

    try:
        with Deployment.open(args.data) as deployment:
            platform = Platform(deployment)
            ledger = audit(deployment.log, deployment.log_verifiers(), status_name)
            records = platform.audit_records()
            access = platform.access.check()
    except (KeyStoreError, ConfigError, SchemaError, DatabaseError, OSError) as exc:
        print(f"wangqian audit: cannot audit {args.data}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_AUDIT
    problems = [f"[log] {p}" for p in ledger.problems] + records.problems
    problems += [f"[access] {p}" for p in access]
    print(
        f"log: {ledger.entries} entries, tree size {ledger.tree_size}, "
        f"{ledger.nodes_checked} nodes and {ledger.checkpoints_checked} checkpoints checked"
    )
    print(_map_line(ledger.status_map))
    print(
        f"records: {records.filings} filings, {records.cancellations} cancellations, "
        f"{records.changes} changes, {records.contracts_rendered} contracts rendered again, "
        f"{records.units} units"
    )
    if records.history is not None:
        waiting = ", ".join(f"{h} {n}" for h, n in records.history.unanchored.items())
        print(
            f"histories: {records.history.anchors} anchors cover {records.history.rows} rows; "
            f"not yet anchored: {waiting}"
        )
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("audit passed" if not problems else f"audit FAILED: {len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_FAILED


def _log_export(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment
    from ledger.export import export_to_directory

    with Deployment.open(args.data) as deployment:
        cp = deployment.log.latest_checkpoint()
        if cp is None:
            print("the log has no checkpoint yet", file=sys.stderr)
            return EXIT_FAILED
        files = export_to_directory(deployment.log, cp, args.out)
    print(f"wrote {files} files to {args.out}: checkpoint of tree size {cp.size} and its tiles")
    return EXIT_OK


def _log_vkey(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment

    with Deployment.open(args.data) as deployment:
        print(deployment.log_verifier.vkey)
    return EXIT_OK


def _log_add_witness(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from filing.deployment import Deployment, WitnessConfig

    Verifier.from_vkey(args.vkey)
    with Deployment.open(args.data) as deployment:
        config = deployment.config
        witnesses = tuple(w for w in config.witnesses if w.vkey != args.vkey)
        witnesses += (WitnessConfig(args.vkey, args.url),)
        threshold = config.witness_threshold if args.threshold is None else args.threshold
        if not 0 <= threshold <= len(witnesses):
            print(f"threshold must be 0..{len(witnesses)}", file=sys.stderr)
            return EXIT_USAGE
        deployment.save_config(replace(config, witnesses=witnesses, witness_threshold=threshold))
    print(f"{len(witnesses)} witness(es), policy {threshold}-of-{len(witnesses)}")
    return EXIT_OK


def _keys_init(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment

    with Deployment.open(args.data) as deployment:
        pki = deployment.pki
        seal = pki.filing_seal_certificate()
        print(f"root CA:     {pki.ca.root.subject.rfc4514_string()}")
        print(f"filing seal: {seal.subject.rfc4514_string()} (serial {seal.serial_number:x})")
        print(f"log key:     {deployment.log_verifier.vkey}")
    return EXIT_OK


def _keys_trust_bundle(args: argparse.Namespace) -> int:

    from filing.deployment import Deployment

    with Deployment.open(args.data) as deployment:
        text = deployment.trust_bundle_json()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _keys_revoke(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment
    from keys.authority import RevocationReason

    with Deployment.open(args.data) as deployment:
        status = deployment.pki.ca.revoke(int(args.serial, 16), RevocationReason(args.reason))
    print(f"revoked {status.serial:x} at {status.revoked_at} ({args.reason})")
    return EXIT_OK


def _keys_rotate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from filing.deployment import Deployment, LogKey

    with Deployment.open(args.data) as deployment:
        config = deployment.config
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        if args.what == "log":
            name = f"log-ed25519-{len(config.log_keys) + 1}"
            config = replace(config, log_keys=(*config.log_keys, LogKey(name, valid_from=now)))
        elif args.what == "retire-old-log-keys":
            *old, newest = config.log_keys
            retired = (replace(k, retired=True, valid_until=k.valid_until or now) for k in old)
            config = replace(config, log_keys=(*retired, newest))
        else:
            base = "filing-seal"
            n = 2
            while (deployment.data_dir / "pki" / f"{base}-{n}.pem").exists():
                n += 1
            config = replace(config, filing_seal=f"{base}-{n}")
        deployment.save_config(config)
    with Deployment.open(args.data) as again:  # creates the new key and certificate now
        if args.what == "filing-seal":
            cert = again.pki.filing_seal_certificate()
            print(f"filing seal is now {again.config.filing_seal} (serial {cert.serial_number:x})")
        for v in again.log_verifiers():
            state = "retired" if v in again.retired else "active"
            print(f"log key {state}: {v.vkey}")
    print("export the trust bundle again: wangqian keys trust-bundle")
    return EXIT_OK


def _demo_city(args: argparse.Namespace) -> int:
    from api.demo_city import CityExists, generate

    try:
        made = generate(args.data, args.seed)
    except CityExists as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    print(
        f"a synthetic city in {args.data}: {made['units']} units, {made['filings']} filings over "
        f"a year, {made['cancellations']} cancelled; {made['resales']} resales of existing homes "
        f"({made['transfers']} transferred, {made['resales_cancelled']} cancelled, "
        f"{made['fund_events']} supervised-fund events); {made['maintenance_deposits']} "
        f"maintenance-fund deposits, {made['maintenance_debits']} units debited for a repair; "
        f"{made['leases']} leases ({made['leases_ended']} ended early, {made['leases_renewed']} "
        f"renewed, {made['leases_expired']} expired); "
        f"log size {made['log_size']}"
    )
    print(f"see it: wangqian serve --data {args.data}, then /dashboard#key=<authority key>")
    return EXIT_OK


def _admin_anchor_access_log(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment
    from filing.platform import DatabaseBusy, Platform

    with Deployment.open(args.data) as deployment:
        platform = Platform(deployment)
        if args.check:
            problems = platform.access.check()
            for problem in problems:
                print(f"PROBLEM: {problem}")
            print("access log matches its anchors" if not problems else "access log CHANGED")
            return EXIT_OK if not problems else EXIT_FAILED
        try:
            done = platform.access.anchor()
        except DatabaseBusy as exc:  # its lock_timeout: a long transaction writes it
            print(f"the access log stayed busy; try again: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if done is None:
        print("nothing new in the access log")
    else:
        print(
            f"anchored access log rows {done.from_id}..{done.to_id} at log index {done.log_index}"
        )
    return EXIT_OK


def _admin_anchor_histories(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment
    from filing.platform import Platform

    with Deployment.open(args.data) as deployment:
        logged = Platform(deployment).anchor_histories()
    for done in logged:
        a = done.anchor
        print(f"anchored {a.history} rows {a.from_id}..{a.to_id} at log index {done.log_index}")
    if not logged:
        print("nothing new in the unit and filing histories")
    return EXIT_OK


def _admin_create_key(args: argparse.Namespace) -> int:
    from filing.deployment import Deployment
    from filing.platform import Platform
    from filing.policy import Role

    with Deployment.open(args.data) as deployment:
        key = Platform(deployment).create_key(args.org, Role(args.role))
    print(key)
    return EXIT_OK


def _admin_migrate(args: argparse.Namespace) -> int:
    from filing.platform import migrate

    done = migrate(args.data, lambda was: print(f"database {was}"))
    for line in done.lines():
        print(line)
    return EXIT_OK


def _insecure_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--insecure-dev-passphrase",
        action="store_true",
        help=f"run even though {PASSPHRASE_ENV} is unset and the keys open with the "
        "development passphrase kept beside them (local testing only)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wangqian", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the main job on the embedded default and verify it")
    demo.add_argument("--data", type=Path, required=True, help="data directory (created if empty)")
    demo.add_argument("--out", type=Path, required=True, help="where to write the results")
    demo.set_defaults(func=_demo)

    city = sub.add_parser(
        "demo-city", help="fill a fresh data dir with a synthetic city (dashboard, benchmarks)"
    )
    city.add_argument("--data", type=Path, required=True)
    city.add_argument("--seed", type=int, default=2026)
    city.set_defaults(func=_demo_city)

    serve = sub.add_parser("serve", help="serve the HTTP API and run the sequencer")
    serve.add_argument("--data", type=Path, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes (PostgreSQL only; one of them sequences and dispatches events)",
    )
    _insecure_flag(serve)
    serve.set_defaults(func=_serve)

    witness = sub.add_parser("witness", help="run an independent C2SP tlog-witness")
    witness.add_argument("--data", type=Path, required=True, help="the witness's own directory")
    witness.add_argument("--host", default="127.0.0.1")
    witness.add_argument("--port", type=int, required=True)
    witness.add_argument("--name", help="the witness's key name (first run only)")
    witness.add_argument(
        "--trust-log", action="append", metavar="VKEY", help="follow the log with this vkey"
    )
    _insecure_flag(witness)
    witness.set_defaults(func=_witness)

    keys_cmd = sub.add_parser("keys", help="keys, certificates and the trust bundle")
    keys_sub = keys_cmd.add_subparsers(dest="keys_command", required=True)
    init = keys_sub.add_parser("init", help="create the CA hierarchy, TSA, OCSP, seal and log keys")
    init.add_argument("--data", type=Path, required=True)
    init.set_defaults(func=_keys_init)
    bundle = keys_sub.add_parser("trust-bundle", help="export what an offline verifier trusts")
    bundle.add_argument("--data", type=Path, required=True)
    bundle.add_argument("--out", type=Path, help="write here instead of standard output")
    bundle.set_defaults(func=_keys_trust_bundle)
    revoke = keys_sub.add_parser("revoke", help="revoke a certificate this CA issued")
    revoke.add_argument("--data", type=Path, required=True)
    revoke.add_argument("--serial", required=True, help="serial number in hex")
    revoke.add_argument(
        "--reason",
        default="unspecified",
        choices=[
            "unspecified",
            "key_compromise",
            "affiliation_changed",
            "superseded",
            "cessation_of_operation",
        ],
    )
    revoke.set_defaults(func=_keys_revoke)
    rotate = keys_sub.add_parser(
        "rotate", help="add a new log key or filing seal (old ones stay valid)"
    )
    rotate.add_argument("--data", type=Path, required=True)
    rotate.add_argument("what", choices=["log", "retire-old-log-keys", "filing-seal"])
    rotate.set_defaults(func=_keys_rotate)

    admin = sub.add_parser("admin", help="API keys, anchors, schema migrations")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    ck = admin_sub.add_parser("create-key", help="print a new API key for an organisation")
    ck.add_argument("--data", type=Path, required=True)
    ck.add_argument(
        "--org",
        required=True,
        help="developer: 统一社会信用代码; buyer (个人): ID number; agency: 经纪机构备案证明编号",
    )
    ck.add_argument(
        "--role",
        required=True,
        choices=["authority", "developer", "buyer", "agency", "court", "department", "tax", "bank"],
    )
    ck.set_defaults(func=_admin_create_key)

    anchor = admin_sub.add_parser(
        "anchor-access-log", help="put the access log's digest into the filing log (or --check)"
    )
    anchor.add_argument("--data", type=Path, required=True)
    anchor.add_argument("--check", action="store_true", help="recompute and compare every anchor")
    anchor.set_defaults(func=_admin_anchor_access_log)

    histories = admin_sub.add_parser(
        "anchor-histories",
        help="put the unit and filing histories' digests into the filing log (serve does "
        "it every minute)",
    )
    histories.add_argument("--data", type=Path, required=True)
    histories.set_defaults(func=_admin_anchor_histories)

    migrate = admin_sub.add_parser(
        "migrate",
        help="upgrade the database to this wangqian's schema (adopting one made by release "
        "0.1); back it up first",
    )
    migrate.add_argument("--data", type=Path, required=True)
    migrate.set_defaults(func=_admin_migrate)

    full = sub.add_parser(
        "audit",
        help="check the log and that the database agrees with it (exit 0 passed, 1 problems, "
        "3 cannot audit)",
    )
    full.add_argument("--data", type=Path, required=True)
    full.set_defaults(func=_audit)

    log_cmd = sub.add_parser("log", help="log administration")
    log_sub = log_cmd.add_subparsers(dest="log_command", required=True)
    audit = log_sub.add_parser("audit", help="recompute the tree and check every checkpoint")
    audit.add_argument("--data", type=Path, required=True)
    audit.set_defaults(func=_log_audit)
    export = log_sub.add_parser(
        "export", help="write the log as tlog-tiles files (for mirrors and wangqian-verify)"
    )
    export.add_argument("--data", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(func=_log_export)
    vkey = log_sub.add_parser("vkey", help="print the log's verifier key")
    vkey.add_argument("--data", type=Path, required=True)
    vkey.set_defaults(func=_log_vkey)
    add = log_sub.add_parser("add-witness", help="ask a witness to cosign every checkpoint")
    add.add_argument("--data", type=Path, required=True)
    add.add_argument("--vkey", required=True, help="the witness's vkey")
    add.add_argument("--url", required=True, help="the witness's submission prefix")
    add.add_argument("--threshold", type=int, help="cosignatures required (k of n)")
    add.set_defaults(func=_log_add_witness)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Tracebacks in the log name types and places, never the text (api/incidents.py).
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (
        SchemaError,
        KeyStoreError,
        NoteError,
        ProofError,
        FontMissing,
        SigningError,
        CertificateError,
        ValueError,
        OSError,
    ) as exc:
        print(f"wangqian: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
