"""The platform's FastAPI app; runs the sequencer in the background while serving."""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api import (
    docs_pages,
    filing_routes,
    fund_routes,
    invitation_routes,
    lease_routes,
    list_routes,
    log_routes,
    maintenance_routes,
    ownership_routes,
    pages,
    pki_routes,
    problems,
    supervision_routes,
)
from api.examples import add_examples
from api.incidents import LastResortMiddleware
from api.limits import BodyLimitMiddleware
from api.openapi import complete
from api.ratelimit import CpuBudget, RateLimiter
from filing.deployment import Deployment
from filing.platform import Platform
from filing.platform import filing_service as filing_service  # for the tests and benchmarks
from filing.relay import Resolver, Targets, system_resolver
from filing.webhook_policy import AddressPolicy

REDIS_ENV = "WANGQIAN_REDIS_URL"
DATA_ENV = "WANGQIAN_DATA"  # the data directory, for worker processes started by uvicorn
# Seconds between sweeps: drafts whose reservation ran out are released and the unit and
# filing histories anchored in the filing log.
EXPIRY_INTERVAL = 60.0
ANCHOR_EVERY = 5  # sweeps between anchors of the access log in the filing log
# Allocations between collections of the youngest generation (CPython's default is 700).
# Judging and sealing one contract parses its PDF and certificates into some 10^5 small
# objects: at 700, the collector took about a tenth of a serving process's CPU time
# (docs/operations.md, "Background work in `wangqian serve`").
YOUNG_GENERATION_THRESHOLD = 20_000
log = logging.getLogger(__name__)
# pyHanko logs a warning with a traceback for every damaged signature it is shown; the
# platform's answer (422 signature-rejected) already says what is wrong, to the one who sent it.
for _library in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_library).setLevel(logging.ERROR)


def create_app(
    deployment: Deployment, run_sequencer: bool = True, resolver: Resolver = system_resolver
) -> FastAPI:
    """The app; ``resolver`` resolves webhook hosts (the system's, or a test's seam)."""
    platform = Platform(deployment)
    service = platform.service
    limiter = RateLimiter(os.environ.get(REDIS_ENV), deployment.config.rate_per_minute)
    budget = CpuBudget(os.environ.get(REDIS_ENV), deployment.config.verification_cpu_seconds)
    targets = Targets(AddressPolicy.parse(deployment.config.webhook_allow), resolver)
    dispatcher = platform.dispatcher(os.environ.get(REDIS_ENV), targets)
    stop = threading.Event()

    def housekeeping() -> None:
        sweeps = 0
        while not stop.wait(EXPIRY_INTERVAL):
            sweeps += 1
            try:
                service.expire_drafts()
            except Exception:
                log.exception("releasing expired drafts failed; retrying")
            try:
                # On a clock of its own, whatever filings and cancellations come.
                platform.anchor_histories()
            except Exception:
                log.exception("anchoring the unit and filing histories failed; retrying")
            if sweeps % ANCHOR_EVERY == 0:
                try:
                    platform.access.anchor()
                except Exception:
                    log.exception("anchoring the access log failed; retrying")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers = []
        if run_sequencer:
            workers = [
                threading.Thread(
                    target=deployment.sequencer().run, args=(stop,), name="sequencer", daemon=True
                ),
                threading.Thread(
                    target=deployment.sequencer().listen,
                    args=(stop,),
                    name="log-listener",
                    daemon=True,
                ),
                threading.Thread(target=housekeeping, name="housekeeping", daemon=True),
                threading.Thread(target=dispatcher.run, args=(stop,), name="events", daemon=True),
            ]
            for w in workers:
                w.start()
        try:
            yield
        finally:
            stop.set()
            for w in workers:
                w.join(timeout=10)
            dispatcher.close()

    app = FastAPI(
        title="wangqian",
        summary="Housing contract filing with an append-only, witnessed Merkle log",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served offline by docs_pages
        redoc_url=None,
    )
    problems.install(app)
    docs_pages.install(app)
    app.add_middleware(BodyLimitMiddleware)
    # Added last, so outermost: whatever escapes the handlers is answered and logged here,
    # without its text, before the server could log it in full.
    app.add_middleware(LastResortMiddleware)
    app.include_router(log_routes.router(deployment))
    app.include_router(pki_routes.router(deployment))
    app.include_router(filing_routes.router(deployment, platform, limiter))
    app.include_router(ownership_routes.router(deployment, platform, limiter))
    app.include_router(fund_routes.router(deployment, platform, limiter))
    app.include_router(maintenance_routes.router(deployment, platform, limiter))
    app.include_router(lease_routes.router(deployment, platform, limiter))
    app.include_router(supervision_routes.router(platform, limiter, targets))
    app.include_router(list_routes.router(platform, limiter))
    app.include_router(pages.router(deployment, service, limiter, budget))
    app.include_router(invitation_routes.router(deployment, platform, limiter, budget))
    describe = app.openapi
    app.openapi = lambda: complete(add_examples(describe()))  # type: ignore[method-assign]
    return app


def settle_heap() -> None:
    """For a serving process whose app is built: what start-up made (modules, the app, its
    routes) is left out of the cyclic garbage collector's passes (``gc.freeze``; it lives as
    long as the process, and is still freed by reference counting), and the youngest
    generation is collected every ``YOUNG_GENERATION_THRESHOLD`` allocations. Only the
    collector's schedule changes: what is garbage is still collected."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


def app_from_environment() -> FastAPI:
    """The app over the deployment in ``$WANGQIAN_DATA``: each ``serve --workers`` process's."""
    data = os.environ.get(DATA_ENV)
    if not data:
        raise RuntimeError(f"{DATA_ENV} names no data directory")
    # Open for the life of the worker process; its threads stop with the app's lifespan.
    app = create_app(Deployment.open(Path(data)))
    settle_heap()
    return app
