"""An RFC 3161 time-stamp authority built on asn1crypto and cryptography.

``TimeStampAuthority.respond`` turns a DER TimeStampReq into a DER TimeStampResp:
a CMS SignedData over a TSTInfo, signed with the TSA's ECDSA key, with an ESS
signing-certificate-v2 attribute (RFC 5816) and, when the request asks for it,
the TSA's certificate chain.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# 2.25.<uuid>: a private OID for this platform's time-stamping policy.
POLICY_OID = "2.25.166120390734870234069744813829834521367"
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
MAX_REQUEST = 16 * 1024


class TimeStampRequestError(ValueError):
    """The request is malformed or asks for something this TSA does not do."""

    def __init__(self, message: str, fail_info: str) -> None:
        super().__init__(message)
        self.fail_info = fail_info  # an RFC 3161 PKIFailureInfo name


class TimeStampAuthority:
    def __init__(
        self,
        certificate: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        self.certificate = certificate
        self._key = key
        self._chain = list(chain)

    def respond(self, request_der: bytes, now: dt.datetime | None = None) -> bytes:
        """Answer a TimeStampReq; malformed requests get a rejection, never an exception."""
        try:
            request = self._parse(request_der)
        except TimeStampRequestError as exc:
            return _rejection(str(exc), exc.fail_info)
        token = self.token(request, now)
        response = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return bytes(response.dump())

    @staticmethod
    def _parse(der: bytes) -> tsp.TimeStampReq:
        if len(der) > MAX_REQUEST:
            raise TimeStampRequestError("request too large", "bad_request")
        try:
            request = tsp.TimeStampReq.load(der)
            _ = request.native  # parse everything now, not lazily later
        except (ValueError, TypeError) as exc:
            raise TimeStampRequestError(
                f"malformed TimeStampReq: {exc}", "bad_data_format"
            ) from exc
        if request["version"].native != "v1":
            raise TimeStampRequestError("only version 1 requests", "bad_request")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in DIGEST_SIZES:
            raise TimeStampRequestError(f"hash algorithm {algorithm} not accepted", "bad_alg")
        if len(imprint["hashed_message"].native) != DIGEST_SIZES[algorithm]:
            raise TimeStampRequestError("message imprint has the wrong length", "bad_data_format")
        policy = request["req_policy"].native
        if policy is not None and policy != POLICY_OID:
            raise TimeStampRequestError(f"policy {policy} not offered", "unaccepted_policy")
        if request["extensions"].native:
            raise TimeStampRequestError(
                "no request extensions are supported", "unaccepted_extension"
            )
        return request

    def token(self, request: tsp.TimeStampReq, now: dt.datetime | None = None) -> cms.ContentInfo:
        gen_time = now or dt.datetime.now(dt.UTC)
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": POLICY_OID,
                "message_imprint": request["message_imprint"],
                "serial_number": int.from_bytes(secrets.token_bytes(12), "big"),
                "gen_time": gen_time,
                "accuracy": {"seconds": 1},
                "ordering": False,
                "nonce": request["nonce"].native,
            }
        )
        content = info.dump()
        fixed = self._fixed
        # The parts that never change are kept encoded and loaded afresh for each token:
        # asn1crypto re-encodes a parsed value it has looked into (whole certificates).
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {"type": "signing_time", "values": [cms.Time({"utc_time": gen_time})]}
                ),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
                ),
                cms.CMSAttribute.load(fixed.signing_certificate),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        certificates = []
        if request["cert_req"].native:
            certificates = [asn1_x509.Certificate.load(der) for der in fixed.chain]
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(fixed.sid),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(content),
                },
                "certificates": certificates or None,
                "signer_infos": [signer],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    @functools.cached_property
    def _fixed(self) -> _FixedParts:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        cert = asn1_x509.Certificate.load(der)
        ess = tsp.SigningCertificateV2(
            {
                "certs": [
                    tsp.ESSCertIDv2(
                        {
                            "hash_algorithm": {"algorithm": "sha256"},
                            "cert_hash": hashlib.sha256(der).digest(),
                            "issuer_serial": {
                                "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                                "serial_number": cert.serial_number,
                            },
                        }
                    )
                ]
            }
        )
        sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": {
                    "issuer": cert.issuer,
                    "serial_number": cert.serial_number,
                }
            }
        )
        return _FixedParts(
            signing_certificate=cms.CMSAttribute(
                {"type": "signing_certificate_v2", "values": [ess]}
            ).dump(),
            sid=sid.dump(),
            chain=(
                der,
                *(c.public_bytes(serialization.Encoding.DER) for c in self._chain),
            ),
        )


@dataclass(frozen=True)
class _FixedParts:
    """The DER of what every token repeats: the ESS attribute, the signer id, the chain."""

    signing_certificate: bytes
    sid: bytes
    chain: tuple[bytes, ...]


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    # RFC 3161 makes the token OPTIONAL (absent on rejection); asn1crypto's class does not.
    _fields: ClassVar = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _rejection(message: str, fail_info: str) -> bytes:
    return bytes(
        _TimeStampResp(
            {
                "status": {
                    "status": "rejection",
                    "status_string": [message],
                    "fail_info": tsp.PKIFailureInfo({fail_info}),
                }
            }
        ).dump()
    )
