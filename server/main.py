"""Assembles the application; nothing else lives here."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from server import console, docs, errors
from server.admission import SyncGate
from server.api import auth, compliance, health, photos, policies, roster, sync
from server.db import get_engine
from server.headers import SecurityHeaders
from server.last_used import LastUsedMarks
from server.limits import BodyLimit
from server.rejudge_worker import RejudgeWorker
from server.services.throttle import LoginThrottle
from server.settings import get_settings
from shared.messages import t


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of one server process: writing devices' last-use marks, and finishing
    the re-judging of stored visits after policy changes (server/rejudge_worker.py)."""
    marks: LastUsedMarks = app.state.last_used
    worker: RejudgeWorker = app.state.rejudge
    worker.start()
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(marks.run, get_engine(), get_settings().last_used_flush_seconds)
            yield
            tasks.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(worker.stop)


def create_app() -> FastAPI:
    settings = get_settings()
    # One schema per model for requests and answers alike: generated clients (openapi-python-client)
    # refuse two models of one name, such as PolicyParams read in a PUT and sent in a pull.
    app = FastAPI(
        title=t("api.title"),
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
        # Operation ids are the route functions' names (unique in the document): a generated
        # client reads ``api.sync.push`` rather than ``push_api_v1_sync_push_post``.
        generate_unique_id_function=lambda route: route.name,
        lifespan=_lifespan,
    )
    app.state.last_used = LastUsedMarks()
    app.state.rejudge = RejudgeWorker(
        get_engine,
        page_size=settings.rejudge_page_size,
        lease_seconds=settings.rejudge_lease_seconds,
        poll_seconds=settings.rejudge_poll_seconds,
    )
    errors.install(app)
    app.state.login_throttle = LoginThrottle(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        storage_uri=settings.rate_limit_storage,
        key_prefix=settings.rate_limit_key_prefix,
    )
    docs.install(app)  # /docs from local assets (no CDN) and the real error schema
    for router in (
        health.router,
        auth.router,
        sync.router,
        compliance.router,
        photos.router,
        roster.router,
        policies.router,
    ):
        app.include_router(router, prefix="/api/v1")
    console.install(app)
    # The console signs in with a cookie; the API only ever reads bearer tokens.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="songjiao_session",
        max_age=console.SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    # Sync work is admitted (or refused with 503) before it takes a thread or a connection;
    # inside BodyLimit, which bounds what a refused request's body drain may read.
    app.add_middleware(
        SyncGate,
        concurrency=settings.sync_concurrency,
        queue=settings.sync_queue,
        queue_seconds=settings.sync_queue_seconds,
        retry_after=settings.sync_retry_after,
    )
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        photos=settings.max_photo_bytes,
        roster=settings.max_roster_bytes,
    )
    # Outermost, so that the answers the body limit gives itself carry the headers too.
    app.add_middleware(SecurityHeaders)
    return app


def create_served_app() -> FastAPI:
    """The app as ``songjiao serve`` runs it, in each server process (the workers of
    ``--workers N`` are spawned, not forked: each imports and freezes on its own).

    The modules, tables and routes loaded so far live as long as the process: freezing them
    keeps the garbage collector from walking them again on every full collection, which a
    500-op push (tens of thousands of short-lived objects) otherwise triggers several times.
    """
    import gc

    app = create_app()
    gc.freeze()
    return app
