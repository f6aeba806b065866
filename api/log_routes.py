"""Read-only HTTP access to the log: checkpoint, tiles (C2SP tlog-tiles), proofs, receipts."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from api.problems import Problem
from filing.deployment import Deployment
from ledger.add_checkpoint import AddCheckpoint
from ledger.log import SizeError
from ledger.status_store import StatusMapError
from ledger.tiles import TilePathError, parse_tile_path

# Indices and sizes fit a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT).
MAX_INDEX = 2**62
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
SHORT = {"Cache-Control": "no-cache, max-age=2"}


class InclusionProofOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    proof: list[str]

    model_config = {
        "json_schema_extra": {
            "examples": [{"index": 3, "size": 8, "leaf_hash": "base64…", "proof": ["base64…"]}]
        }
    }


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    proof: list[str]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in items]


def router(deployment: Deployment) -> APIRouter:
    r = APIRouter(prefix="/log", tags=["log"])
    log = deployment.log

    @r.get("/checkpoint", response_class=PlainTextResponse, summary="Latest signed checkpoint")
    def checkpoint() -> Response:
        cp = log.latest_checkpoint()
        if cp is None:
            raise Problem(404, "no-checkpoint", "No checkpoint yet", "the log has issued none")
        return PlainTextResponse(cp.cosigned_note, headers=SHORT)

    @r.get("/vkey", response_class=PlainTextResponse, summary="The log's verifier key")
    def vkey() -> str:
        return deployment.log_verifier.vkey + "\n"

    @r.get("/tile/{path:path}", summary="Tiles and entry bundles (C2SP tlog-tiles)")
    def tile(path: str) -> Response:
        try:
            ref = parse_tile_path(path)
            data = (
                log.entry_bundle(ref.index, ref.width)
                if ref.level is None
                else log.tile(ref.level, ref.index, ref.width)
            )
        except TilePathError as exc:
            raise Problem(400, "bad-tile-path", "Malformed tile path", str(exc)) from exc
        except SizeError as exc:
            raise Problem(404, "tile-not-found", "No such tile", str(exc)) from exc
        return Response(data, media_type="application/octet-stream", headers=IMMUTABLE)

    @r.get("/proof/inclusion", response_model=InclusionProofOut, summary="Inclusion proof")
    def inclusion(
        index: int = Query(ge=0, le=MAX_INDEX), size: int = Query(ge=1, le=MAX_INDEX)
    ) -> InclusionProofOut:
        try:
            proof = log.inclusion_proof(index, size)
            leaf = log.leaf_hash(index)
        except SizeError as exc:
            raise Problem(404, "size-out-of-range", "Size or index out of range", str(exc)) from exc
        return InclusionProofOut(
            index=index, size=size, leaf_hash=base64.b64encode(leaf).decode(), proof=_b64(proof)
        )

    @r.get("/proof/consistency", response_model=ConsistencyProofOut, summary="Consistency proof")
    def consistency(
        old: int = Query(ge=1, le=MAX_INDEX), new: int = Query(ge=1, le=MAX_INDEX)
    ) -> ConsistencyProofOut:
        try:
            proof = log.consistency_proof(old, new)
        except SizeError as exc:
            raise Problem(404, "size-out-of-range", "Size out of range", str(exc)) from exc
        return ConsistencyProofOut(old_size=old, new_size=new, proof=_b64(proof))

    @r.get(
        "/later-checkpoint",
        response_class=PlainTextResponse,
        summary="The latest checkpoint with a consistency proof from an older size",
        description="The C2SP tlog-witness add-checkpoint body; `wangqian-verify "
        "--later-checkpoint` reads it to check that a receipt's tree still holds.",
    )
    def later_checkpoint(old: int = Query(ge=1, le=MAX_INDEX)) -> Response:
        cp = deployment.latest_witnessed_checkpoint()  # later evidence meets the policy too
        if cp is None or old > cp.size:
            raise Problem(404, "size-out-of-range", "Size out of range", f"old size {old}")
        proof = tuple(log.consistency_proof(old, cp.size))
        return PlainTextResponse(
            AddCheckpoint(old, proof, cp.cosigned_note).to_text(), headers=SHORT
        )

    @r.get(
        "/status/{filing}",
        response_class=PlainTextResponse,
        summary="A filing's status proof (.tlog-status) as of the latest witnessed checkpoint",
        description="The filing's latest event (filed, changed, cancelled) with its proof in "
        "the status map the checkpoint commits to, or the proof that it has none; with "
        "`old`, a consistency proof from that tree size (a receipt's). `wangqian-verify "
        "--status` checks it offline. Public: entries carry no personal data.",
    )
    def status(
        filing: str = Path(pattern=r"^[\x21-\x7e]{1,64}$", description="the filing number"),
        old: int | None = Query(None, ge=1, le=MAX_INDEX, description="a receipt's tree size"),
    ) -> Response:
        cp = deployment.latest_witnessed_checkpoint()
        if cp is None:
            raise Problem(404, "no-checkpoint", "No checkpoint yet", "the log has issued none")
        if old is not None and old > cp.size:
            raise Problem(
                404, "size-out-of-range", "Size out of range", f"old size {old} > {cp.size}"
            )
        try:
            found = deployment.status_map.status(filing, cp, old)
        except StatusMapError as exc:
            raise Problem(
                404,
                "no-status-map",
                "The latest witnessed checkpoint commits to no status map yet",
                str(exc),
            ) from exc
        return PlainTextResponse(found.to_text(), headers=SHORT)

    @r.get("/receipt/{index}", response_class=PlainTextResponse, summary="tlog-proof receipt")
    def receipt(index: int = Path(ge=0, le=MAX_INDEX)) -> Response:
        cp = deployment.latest_witnessed_checkpoint()
        if index < 0 or cp is None or index >= cp.size:
            raise Problem(404, "not-yet-logged", "Not in a checkpoint yet", f"index {index}")
        return PlainTextResponse(log.receipt(index, cp).to_text())

    return r
