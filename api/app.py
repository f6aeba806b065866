"""The platform's FastAPI app; runs the sequencer in the background while serving."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import log_routes, pki_routes, problems
from filing.deployment import Deployment


def create_app(deployment: Deployment, run_sequencer: bool = True) -> FastAPI:
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker = None
        if run_sequencer:
            worker = threading.Thread(
                target=deployment.sequencer().run, args=(stop,), name="sequencer", daemon=True
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=10)

    app = FastAPI(
        title="wangqian",
        summary="Housing contract filing with an append-only, witnessed Merkle log",
        version="0.1.0",
        lifespan=lifespan,
    )
    problems.install(app)
    app.include_router(log_routes.router(deployment))
    app.include_router(pki_routes.router(deployment))
    return app
