"""The API's documentation: a truthful OpenAPI document and Swagger UI served from this server.

Swagger UI's assets come from the pinned ``fastapi-offline`` package, so /docs works on an
intranet with no internet. Its start-up script is a file of ours rather than FastAPI's inline
<script>, so the page runs under a Content-Security-Policy without 'unsafe-inline' scripts
(server/headers.py). ReDoc is not served: one documentation page is enough.
"""

import json
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from server.errors import ErrorResponse
from server.headers import DOCS_PREFIX
from shared.messages import t
from shared.protocol import DocumentedOp

ASSETS = f"{DOCS_PREFIX}/assets"
_ASSET_DIR = str(files("fastapi_offline") / "static")

_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{prefix}/init.js"></script>
</body>
</html>
"""


def _init_script(openapi_url: str) -> str:
    # validatorUrl null: Swagger UI would otherwise send the document to an outside validator.
    options = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "validatorUrl": None,
        "persistAuthorization": False,
    }
    return (
        f"window.ui = SwaggerUIBundle(Object.assign({json.dumps(options)}, "
        "{presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]}));\n"
    )


def install(app: FastAPI) -> None:
    """Serve /docs (create the app with ``docs_url=None, redoc_url=None``) and make
    ``app.openapi()`` describe the errors as the server really answers them."""
    openapi_url = app.openapi_url or "/openapi.json"
    page = _PAGE.format(title=f"{app.title} · API", assets=ASSETS, prefix=DOCS_PREFIX)
    script = _init_script(openapi_url)

    @app.get(DOCS_PREFIX, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(f"{DOCS_PREFIX}/init.js", include_in_schema=False)
    def swagger_init() -> Response:
        return Response(script, media_type="text/javascript")

    app.mount(ASSETS, StaticFiles(directory=_ASSET_DIR), name="docs-assets")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            app.openapi_schema = truthful_validation_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's default 422 (``HTTPValidationError``, a body this server never sends)
    with the error body server.errors really answers with, and add the schemas referenced
    from outside any route's model (the push ops)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    real = {"$ref": "#/components/schemas/ErrorResponse"}
    for path in document.get("paths", {}).values():
        for operation in path.values():
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            answer["description"] = t("api.doc.422")
            answer["content"] = {"application/json": {"schema": real}}
    for model in (ErrorResponse, DocumentedOp):  # referenced, but by no route's own model
        if model.__name__ not in schemas:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, part in schema.pop("$defs", {}).items():
                schemas.setdefault(name, part)
            schemas[model.__name__] = schema
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
