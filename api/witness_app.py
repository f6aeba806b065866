"""HTTP face of a witness: C2SP tlog-witness ``POST /add-checkpoint``."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from api.limits import BodyLimitMiddleware
from keys.private_files import private_directory, private_file, private_sqlite
from keys.store import FileKeyStore, resolve_passphrase
from ledger.add_checkpoint import MAX_BODY
from ledger.note import ALG_COSIGNATURE_V1, Signer, Verifier
from ledger.witness import Witness, WitnessError

WITNESS_KEY = "witness-ed25519"


def open_witness_dir(data_dir: Path, name: str | None, add_logs: list[str]) -> Witness:
    """Open (initialising on first use) a witness's own directory: key, config, store.

    ``witness.json`` holds the witness's name and the vkeys of the logs it follows.
    """
    data_dir = private_directory(data_dir.resolve())
    config_path = data_dir / "witness.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    if name is not None and config.get("name") not in (None, name):
        raise ValueError(f"this witness is named {config['name']!r}; a name cannot change")
    config["name"] = config.get("name") or name or f"witness-{data_dir.name}.wangqian.example"
    logs: list[str] = list(config.get("logs", []))
    for vkey in add_logs:
        Verifier.from_vkey(vkey)
        if vkey not in logs:
            logs.append(vkey)
    config["logs"] = logs
    tmp = config_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(config_path)
    key_dir = private_directory(data_dir / "keys")
    for secret in (*key_dir.glob("*.pem"), key_dir / "passphrase"):
        private_file(secret)
    store = FileKeyStore(key_dir, resolve_passphrase(key_dir))
    signer = Signer(config["name"], store.ed25519(WITNESS_KEY), ALG_COSIGNATURE_V1)
    (data_dir / "witness.vkey").write_text(signer.verifier.vkey + "\n")
    verifiers = [Verifier.from_vkey(v) for v in logs]
    store_path = private_sqlite(data_dir / "witness.db")
    return Witness.open(signer, verifiers, f"sqlite:///{store_path}")


def create_witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="wangqian witness", version="0.1.0")
    app.add_middleware(BodyLimitMiddleware, limit=lambda _path: MAX_BODY)

    @app.post("/add-checkpoint", response_class=PlainTextResponse)
    async def add_checkpoint(request: Request) -> Response:
        raw = await request.body()  # at most MAX_BODY (BodyLimitMiddleware)
        try:
            body = raw.decode("utf-8")
            lines = await run_in_threadpool(witness.add_checkpoint, body)
        except UnicodeDecodeError:
            return PlainTextResponse("request body is not UTF-8\n", status_code=400)
        except WitnessError as exc:
            if exc.status == 409 and exc.size is not None:
                return Response(f"{exc.size}\n", status_code=409, media_type="text/x.tlog.size")
            return PlainTextResponse(exc.message + "\n", status_code=exc.status)
        return PlainTextResponse(lines)

    @app.get("/vkey", response_class=PlainTextResponse)
    def vkey() -> str:
        return witness.signer.verifier.vkey + "\n"

    return app
