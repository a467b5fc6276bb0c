"""Assembles the application; nothing else lives here."""

from fastapi import FastAPI

from server import errors
from server.api import auth, compliance, health, sync
from server.limits import BodyLimit
from server.settings import get_settings


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(title="送教通 API", version="0.1.0", docs_url="/docs")
    errors.install(app)
    for router in (health.router, auth.router, sync.router, compliance.router):
        app.include_router(router, prefix="/api/v1")
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, photos=settings.max_photo_bytes)
    return app
