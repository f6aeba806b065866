"""An RFC 6960 OCSP responder for the certificates of the issuing CA."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from keys.authority import CertificateAuthority, CertificateStatus

MAX_REQUEST = 16 * 1024


def _key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    # RFC 6960: the hash of the issuer's subjectPublicKey BIT STRING contents.
    digest = hashes.Hash(algorithm)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    digest.update(spki)
    return digest.finalize()


def _name_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(cert.subject.public_bytes())
    return digest.finalize()


class OcspResponder:
    def __init__(self, ca: CertificateAuthority) -> None:
        self._ca = ca

    def respond(self, request_der: bytes, now: dt.datetime | None = None) -> bytes:
        """Answer a DER OCSPRequest; bad requests get an OCSP error status, never an exception."""
        if len(request_der) > MAX_REQUEST:
            return _error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
        except (ValueError, TypeError):
            return _error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        issuer = self._ca.issuing
        if request.issuer_key_hash != _key_hash(
            issuer, algorithm
        ) or request.issuer_name_hash != _name_hash(issuer, algorithm):
            # Only the issuing CA's certificates are answered here (the root publishes a CRL).
            return _error(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
        status = self._ca.status(request.serial_number)
        if status is None or status.issuer != "issuing-ca":
            cert_status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
        elif status.revoked:
            cert_status, revoked_at = ocsp.OCSPCertStatus.REVOKED, status.revoked_at
            reason = status.reason.flag if status.reason else None
        else:
            cert_status, revoked_at, reason = ocsp.OCSPCertStatus.GOOD, None, None
        responder = self._ca.certificate("ocsp")
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=algorithm,
                cert_status=cert_status,
                this_update=now,
                next_update=_next_update(now, status),
                revocation_time=revoked_at,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
            .certificates([responder])
        )
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                builder = builder.add_extension(ext.value, critical=False)
        response = builder.sign(self._ca.private_key("ocsp"), hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


# How long an answer may be relied on, at most.
FRESH_FOR = dt.timedelta(hours=1)


def _next_update(now: dt.datetime, status: CertificateStatus | None) -> dt.datetime:
    """Never after the certificate's end: a verifier years later slides its control time
    back to the last moment the newest status was fresh (ETSI EN 319 102-1 past
    validation), and a status fresh beyond the certificate's end leaves it at a moment
    when the certificate had expired: every signature it made would lose its proof."""
    until = now + FRESH_FOR
    if status is not None:
        until = max(now, min(until, _utc(status.not_after)))
    return until


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )
