"""The platform's PKI over HTTP: RFC 3161 time-stamps, RFC 6960 OCSP, CRLs and CA certificates."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.problems import Problem
from filing.deployment import Deployment
from keys.authority import CertificateError

CA_SLUGS = ("root-ca", "issuing-ca")


def router(deployment: Deployment) -> APIRouter:
    r = APIRouter(tags=["pki"])

    async def body(request: Request, media_type: str) -> bytes:
        if request.headers.get("content-type", "").split(";")[0].strip() != media_type:
            raise Problem(
                415, "unsupported-media-type", "Unsupported media type", f"send {media_type}"
            )
        return await request.body()  # bounded by api/limits.py

    @r.post("/tsa", summary="RFC 3161 time-stamp (application/timestamp-query)")
    async def tsa(request: Request) -> Response:
        query = await body(request, "application/timestamp-query")
        reply = await run_in_threadpool(deployment.pki.tsa.respond, query)
        return Response(reply, media_type="application/timestamp-reply")

    @r.post("/ocsp", summary="RFC 6960 OCSP (application/ocsp-request)")
    async def ocsp_post(request: Request) -> Response:
        query = await body(request, "application/ocsp-request")
        reply = await run_in_threadpool(deployment.pki.ocsp.respond, query)
        return Response(reply, media_type="application/ocsp-response")

    @r.get("/ocsp/{encoded:path}", summary="RFC 6960 OCSP over GET (base64 request in the path)")
    def ocsp_get(encoded: str) -> Response:
        try:
            query = base64.b64decode(
                encoded.replace("%2B", "+").replace("%2F", "/"), validate=False
            )
        except (binascii.Error, ValueError) as exc:
            raise Problem(400, "bad-ocsp-request", "Malformed OCSP request", str(exc)) from exc
        return Response(deployment.pki.ocsp.respond(query), media_type="application/ocsp-response")

    @r.get("/crl/{slug}.crl", summary="The CA's current CRL (DER)")
    def crl(slug: str) -> Response:
        if slug not in CA_SLUGS:
            raise Problem(404, "unknown-ca", "No such CA", slug)
        der = deployment.pki.ca.crl(slug).public_bytes(serialization.Encoding.DER)
        return Response(
            der, media_type="application/pkix-crl", headers={"Cache-Control": "max-age=300"}
        )

    @r.get("/pki/{slug}.crt", summary="A CA certificate (DER)")
    def ca_cert(slug: str) -> Response:
        if slug not in CA_SLUGS:
            raise Problem(404, "unknown-ca", "No such CA", slug)
        try:
            cert = deployment.pki.ca.certificate(slug)
        except CertificateError as exc:
            raise Problem(404, "unknown-ca", "No such CA", str(exc)) from exc
        return Response(
            cert.public_bytes(serialization.Encoding.DER), media_type="application/pkix-cert"
        )

    return r
