"""keys/: the CA hierarchy, the TSA and OCSP responder checked by openssl, CRLs, key stores."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from filing.deployment import Deployment
from keys.authority import CertificateAuthority, RevocationReason, pem
from keys.pkcs11 import Pkcs11KeyStore, TokenConfig, TokenError
from keys.pki import BACKDATE, Endpoints, Profile, name, new_key
from keys.store import FileKeyStore, WrongPassphrase
from keys.tsa import POLICY_OID
from tests.helpers import free_port, stop, wait_http, wangqian
from tests.pki_helpers import issue, make_pki


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=60)


def test_hierarchy_is_created_once_and_never_overwritten(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    root, tsa = pki.ca.root, pki.ca.certificate("tsa")
    key_file = (tmp_path / "keys" / "root-ca.pem").read_bytes()
    again = make_pki(tmp_path)
    assert again.ca.root == root and again.ca.certificate("tsa") == tsa
    assert (tmp_path / "keys" / "root-ca.pem").read_bytes() == key_file
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]
    assert pki.ca.issuing.issuer == root.subject
    # Encrypted at rest: the PEM says so, and the passphrase opens it.
    assert b"ENCRYPTED PRIVATE KEY" in key_file


def test_wrong_passphrase_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    make_pki(tmp_path)
    before = sorted(p.name for p in (tmp_path / "keys").iterdir())
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        FileKeyStore(tmp_path / "keys", b"not it").ec_p256("root-ca")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == before


def test_tsa_response_verifies_with_openssl_and_the_root_alone(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    (tmp_path / "data.txt").write_text("网签即备案\n")
    (tmp_path / "root.pem").write_bytes(pem(pki.ca.root))
    q = _run(
        "openssl",
        "ts",
        "-query",
        "-data",
        "data.txt",
        "-sha256",
        "-cert",
        "-out",
        "q.tsq",
        cwd=tmp_path,
    )
    assert q.returncode == 0, q.stderr
    (tmp_path / "r.tsr").write_bytes(pki.tsa.respond((tmp_path / "q.tsq").read_bytes()))
    verify = _run(
        "openssl",
        "ts",
        "-verify",
        "-data",
        "data.txt",
        "-in",
        "r.tsr",
        "-CAfile",
        "root.pem",
        cwd=tmp_path,
    )
    assert verify.returncode == 0 and "Verification: OK" in verify.stdout, verify.stderr
    text = _run("openssl", "ts", "-reply", "-in", "r.tsr", "-text", cwd=tmp_path).stdout
    assert POLICY_OID in text and "Status: Granted." in text


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (b"garbage", "bad_data_format"),
        (
            tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": {
                        "hash_algorithm": {"algorithm": "md5"},
                        "hashed_message": b"\x00" * 16,
                    },
                }
            ).dump(),
            "bad_alg",
        ),
        (
            tsp.TimeStampReq(
                {
                    "version": "v1",
                    "message_imprint": {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "hashed_message": b"\x00" * 32,
                    },
                    "req_policy": "1.2.3.4",
                }
            ).dump(),
            "unaccepted_policy",
        ),
    ],
)
def test_tsa_rejects_what_it_cannot_stamp(
    tmp_path: Path, request_der: bytes, fail_info: str
) -> None:
    pki = make_pki(tmp_path)
    from keys.tsa import _TimeStampResp

    reply = _TimeStampResp.load(pki.tsa.respond(request_der))
    assert reply["status"]["status"].native == "rejection"
    assert fail_info in reply["status"]["fail_info"].native
    assert reply["time_stamp_token"].native is None


def test_crl_lists_revoked_certificates_with_their_reason(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    good, bad = issue(pki, "张三"), issue(pki, "李四")
    pki.ca.revoke(bad.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    crl = pki.ca.crl("issuing-ca")
    assert crl.is_signature_valid(pki.ca.issuing.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(bad.cert.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert crl.get_revoked_certificate_by_serial_number(good.cert.serial_number) is None
    # openssl agrees: the revoked certificate fails a CRL-checked verification.
    (tmp_path / "root.pem").write_bytes(pem(pki.ca.root))
    (tmp_path / "issuing.pem").write_bytes(pem(pki.ca.issuing))
    (tmp_path / "bad.pem").write_bytes(pem(bad.cert))
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    out = _run(
        "openssl",
        "verify",
        "-crl_check",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        "-CRLfile",
        "crl.pem",
        "bad.pem",
        cwd=tmp_path,
    )
    assert out.returncode != 0 and "certificate revoked" in out.stdout + out.stderr


def test_ocsp_over_http_answers_good_and_revoked_as_openssl_sees_it(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"public_url": f"http://127.0.0.1:{port}"}))
    deployment = Deployment.open(data)
    good, bad = issue(deployment.pki, "张三"), issue(deployment.pki, "李四")
    deployment.pki.ca.revoke(bad.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    for file, cert in [
        ("root.pem", deployment.pki.ca.root),
        ("issuing.pem", deployment.pki.ca.issuing),
        ("good.pem", good.cert),
        ("bad.pem", bad.cert),
    ]:
        (tmp_path / file).write_bytes(pem(cert))
    deployment.close()
    server = wangqian(
        "serve", "--insecure-dev-passphrase", "--data", str(data), "--port", str(port)
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/log/vkey", server)
        url = f"http://127.0.0.1:{port}/ocsp"
        for file, want in [("good.pem", "good"), ("bad.pem", "revoked")]:
            out = _run(
                "openssl",
                "ocsp",
                "-issuer",
                "issuing.pem",
                "-cert",
                file,
                "-url",
                url,
                "-CAfile",
                "root.pem",
                cwd=tmp_path,
            )
            assert out.returncode == 0, out.stderr
            assert "Response verify OK" in out.stderr + out.stdout
            assert f"{file}: {want}" in out.stdout
        # GET, as RFC 6960 appendix A allows.
        req = ocsp.OCSPRequestBuilder().add_certificate(
            bad.cert, deployment.pki.ca.issuing, hashes.SHA256()
        )
        der = req.build().public_bytes(serialization.Encoding.DER)
        resp = httpx.get(url + "/" + base64.b64encode(der).decode())
        assert (
            ocsp.load_der_ocsp_response(resp.content).certificate_status
            == ocsp.OCSPCertStatus.REVOKED
        )
        # The TSA over HTTP, and a wrong content type as problem+json.
        tsq = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": hashlib.sha256(b"x").digest(),
                },
                "cert_req": True,
            }
        ).dump()
        r = httpx.post(
            f"http://127.0.0.1:{port}/tsa",
            content=tsq,
            headers={"content-type": "application/timestamp-query"},
        )
        assert r.headers["content-type"] == "application/timestamp-reply"
        assert tsp.TimeStampResp.load(r.content)["status"]["status"].native == "granted"
        wrong = httpx.post(f"http://127.0.0.1:{port}/tsa", content=tsq)
        assert wrong.status_code == 415 and wrong.json()["type"].endswith("/unsupported-media-type")
        crl = httpx.get(f"http://127.0.0.1:{port}/crl/issuing-ca.crl")
        assert x509.load_der_x509_crl(crl.content).get_revoked_certificate_by_serial_number(
            bad.cert.serial_number
        )
    finally:
        stop(server)


def test_pkcs11_keys_are_generated_on_the_token_and_never_leave_it(
    softhsm_token: TokenConfig,
) -> None:
    token = Pkcs11KeyStore(softhsm_token)
    public = token.ec_public_key("test-seal")
    assert token.ec_public_key("test-seal") == public  # found again, not regenerated
    assert token.private_key_attributes("test-seal") == {"sensitive": True, "extractable": False}


def test_pkcs11_errors_are_clear(softhsm_token: TokenConfig, tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="wrong PIN"):
        Pkcs11KeyStore(
            TokenConfig(softhsm_token.module, softhsm_token.token_label, pin="0000")
        ).ec_public_key("x")
    with pytest.raises(TokenError, match="no single token"):
        Pkcs11KeyStore(
            TokenConfig(softhsm_token.module, "no-such-token", pin="1234")
        ).ec_public_key("x")
    with pytest.raises(TokenError, match="module not found"):
        Pkcs11KeyStore(TokenConfig(str(tmp_path / "missing.so"), "t", pin="1"))
    with pytest.raises(TokenError, match="no key"):
        Pkcs11KeyStore(softhsm_token).ec_public_key("never-made", create=False)


def test_issued_certificates_carry_revocation_pointers(tmp_path: Path) -> None:
    ca = CertificateAuthority.open(
        tmp_path / "pki", FileKeyStore(tmp_path / "k", b"pw"), Endpoints("http://pki.example")
    )
    cert = ca.issue(Profile.PARTY, name("王五"), new_key().public_key())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert any(a.access_location.value == "http://pki.example/ocsp" for a in aia)
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://pki.example/crl/issuing-ca.crl"


def test_keys_commands_init_export_and_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main

    data = tmp_path / "data"
    assert main(["keys", "init", "--data", str(data)]) == 0
    assert main(["keys", "init", "--data", str(data)]) == 0  # idempotent
    bundle_path = tmp_path / "trust-bundle.json"
    assert main(["keys", "trust-bundle", "--data", str(data), "--out", str(bundle_path)]) == 0
    bundle = json.loads(bundle_path.read_text())
    root = x509.load_pem_x509_certificate(bundle["roots"][0].encode())
    assert root.subject == root.issuer and bundle["log"]["keys"][0]["status"] == "active"
    d = Deployment.open(data)
    party = issue(d.pki, "张三")
    d.close()
    capsys.readouterr()
    serial = format(party.cert.serial_number, "x")
    assert (
        main(
            [
                "keys",
                "revoke",
                "--data",
                str(data),
                "--serial",
                serial,
                "--reason",
                "key_compromise",
            ]
        )
        == 0
    )
    d = Deployment.open(data)
    try:
        status = d.pki.ca.status(party.cert.serial_number)
        assert status is not None and status.revoked
    finally:
        d.close()
    assert (
        main(["keys", "revoke", "--data", str(data), "--serial", "abc"]) == 1
    )  # never issued here
    assert "no certificate with serial abc" in capsys.readouterr().err


def test_party_certificates_need_a_verified_identity(tmp_path: Path) -> None:
    from keys.identity import (
        IdentityRejected,
        RegistryIdentityCheck,
        SigningPurpose,
        SigningWindowClosed,
        issue_party_certificate,
        purpose_of,
    )

    extract = tmp_path / "extract.json"
    extract.write_text(json.dumps({"430102199001011234": "王小明"}, ensure_ascii=False))
    check = RegistryIdentityCheck(extract)
    for bad in [
        ("李四", "居民身份证", "430102199001011234"),
        ("王小明", "居民身份证", "999"),
        ("王小明", "护照", "430102199001011234"),
    ]:
        with pytest.raises(IdentityRejected):
            check.verify(*bad)
    identity = check.verify("王小明", "居民身份证", "430102199001011234")
    pki = make_pki(tmp_path / "pki")
    purpose = SigningPurpose("HT-2026-000001", "buyer-1")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    cert = issue_party_certificate(pki.ca, identity, new_key().public_key(), purpose, until)
    # It names the one field of the one contract and ends when that draft can no longer be
    # signed (not before: a certificate expired before the seal leaves its signature unproven).
    assert until <= cert.not_valid_after_utc <= until + BACKDATE  # and a margin for the seal
    assert purpose_of(cert) == "sign HT-2026-000001 buyer-1"
    for wrong in (until - dt.timedelta(days=8), until + dt.timedelta(days=30)):
        with pytest.raises(SigningWindowClosed):
            issue_party_certificate(pki.ca, identity, new_key().public_key(), purpose, wrong)
    serial = cert.subject.get_attributes_for_oid(x509.oid.NameOID.SERIAL_NUMBER)[0].value
    assert serial.startswith("IDH:") and "430102199001011234" not in cert.subject.rfc4514_string()


def test_many_threads_ensuring_one_certificate_get_one_whole_certificate(tmp_path: Path) -> None:
    """Found by the 200-filing race: readers saw a half-written seal certificate (a 500)."""
    import threading

    store = FileKeyStore(tmp_path / "keys", b"test passphrase")
    ca = CertificateAuthority.open(tmp_path / "pki", store, Endpoints("http://127.0.0.1:8000"))
    key = new_key()
    results: list[object] = []
    start = threading.Barrier(16)

    def ensure() -> None:
        start.wait()
        try:
            results.append(ca.ensure("seal-x", Profile.FILING_SEAL, name("某章"), key.public_key()))
        except Exception as exc:  # collected, so that the assertion names it
            results.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, x509.Certificate) for r in results), results
    assert len({r.serial_number for r in results}) == 1  # type: ignore[attr-defined]
    assert sum(1 for e in ca.registry.all() if "某章" in e.subject) == 1
    assert not list((tmp_path / "pki").glob("*.tmp"))


def test_many_threads_creating_one_key_get_the_same_key(tmp_path: Path) -> None:
    """Found by the 200-filing race: threads of one process shared a temporary file name."""
    import threading

    store = FileKeyStore(tmp_path / "keys", b"test passphrase")
    results: list[object] = []
    start = threading.Barrier(16)

    def create() -> None:
        start.wait()
        try:
            results.append(store.ec_p256("filing-seal").public_key().public_numbers())
        except Exception as exc:  # collected, so that the assertion names it
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({(r.x, r.y) for r in results}) == 1  # type: ignore[attr-defined]
    assert not [p for p in (tmp_path / "keys").iterdir() if ".tmp" in p.name]


def test_registry_of_an_older_release_is_carried_over_once(tmp_path: Path) -> None:
    """registry.json (before the SQLite registry) keeps its certificates and revocations."""
    pki = make_pki(tmp_path / "pki")
    good, bad = issue(pki, "好"), issue(pki, "坏")
    pki.ca.revoke(bad.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    entries = {
        format(e.serial, "x"): {
            "issuer": e.issuer,
            "profile": e.profile,
            "subject": e.subject,
            "not_after": e.not_after.isoformat(),
            "revoked_at": e.revoked_at.isoformat() if e.revoked_at else None,
            "reason": e.reason,
        }
        for e in pki.ca.registry.all()
    }
    old = tmp_path / "old"
    old.mkdir()
    (old / "registry.json").write_text(json.dumps(entries, indent=1), encoding="utf-8")
    ca = CertificateAuthority(old, pki.ca.store, pki.ca.endpoints)
    assert ca.status(bad.cert.serial_number) == pki.ca.status(bad.cert.serial_number)
    assert ca.status(good.cert.serial_number) is not None
    assert not ca.status(good.cert.serial_number).revoked  # type: ignore[union-attr]
    assert [s.serial for s in ca.revoked("issuing-ca")] == [bad.cert.serial_number]
    assert not (old / "registry.json").exists() and (old / "registry.json.imported").exists()
    assert len(CertificateAuthority(old, pki.ca.store, pki.ca.endpoints).registry.all()) == len(
        entries
    )


def test_revocation_status_reads_one_row_not_every_certificate_issued(tmp_path: Path) -> None:
    """A city issues a certificate per buyer; a status or CRL must not re-read them all.

    Found profiling the filing benchmark: every OCSP answer and CRL parsed the whole
    registry once per certificate ever issued (quadratic), a fifth of a filing's CPU
    after a few hundred buyers.
    """
    import sqlite3

    pki = make_pki(tmp_path / "pki")
    bad = issue(pki, "坏")
    pki.ca.revoke(bad.cert.serial_number, RevocationReason.KEY_COMPROMISE)
    with sqlite3.connect(pki.ca.registry.path) as db:
        db.executemany(
            "INSERT INTO certificates (serial, issuer, profile, subject, not_after)"
            " VALUES (?, 'issuing-ca', 'party', 'CN=x', '2030-01-01T00:00:00+00:00')",
            [(format(10**30 + i, "x"),) for i in range(100_000)],
        )
    statements: list[str] = []
    real = pki.ca.registry._connect

    from contextlib import contextmanager

    @contextmanager
    def counting():  # type: ignore[no-untyped-def]
        with real() as db:
            db.set_trace_callback(statements.append)
            yield db

    pki.ca.registry._connect = counting  # type: ignore[method-assign]
    crl = pki.ca.crl("issuing-ca")
    assert crl.get_revoked_certificate_by_serial_number(bad.cert.serial_number) is not None
    assert len(list(crl)) == 1
    assert pki.ca.status(10**30 + 5) is not None
    # One query for the CRL's revocations, one for the status: indexed, whatever the count.
    assert len(statements) == 2, statements
    with sqlite3.connect(pki.ca.registry.path) as db:
        plans = [
            " ".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + q, args))
            for q, args in [
                (
                    "SELECT * FROM certificates WHERE issuer = ? AND revoked_at IS NOT NULL",
                    ("issuing-ca",),
                ),
                ("SELECT * FROM certificates WHERE serial = ?", ("ab",)),
            ]
        ]
    assert all("USING INDEX" in p or "USING PRIMARY KEY" in p for p in plans), plans
