"""The OpenAPI document tells the truth (issue 7, point 12): every status a route answers is
listed with the body it really has, formats are patterns, answers are typed, and the server's
answers conform to it (schemathesis, response checks on)."""

import time
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import World
from tests.factories import Factory, home_visit, itinerant_visit, upsert
from tests.live import LiveServer

METHODS = {"get", "put", "post", "delete", "patch"}
ERROR_REF = "#/components/schemas/ErrorResponse"
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    return requests.get(f"{server.url}/openapi.json", timeout=30).json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_error_status_has_the_real_error_body(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, op in operations(document):
        for status, answer in op["responses"].items():
            if int(status) < 400:
                continue
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (method, path, status)
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]


def test_routes_list_the_statuses_they_answer(document: dict[str, Any]) -> None:
    def statuses(method: str, path: str) -> set[str]:
        return set(document["paths"][f"/api/v1{path}"][method]["responses"])

    assert {"400", "401", "422"} <= statuses("post", "/auth/login")
    assert {"200", "201", "400", "401", "413", "415"} <= statuses("put", "/photos/{sha256}")
    assert {"400", "401", "404"} <= statuses("get", "/photos/{sha256}")
    assert {"400", "401", "403", "404", "422"} <= statuses("get", "/compliance/{district_code}")
    assert {"400", "401", "403", "409", "422"} <= statuses("post", "/roster/import")
    assert {"400", "401", "422"} <= statuses("get", "/sync/pull")
    for method, path, op in operations(document):
        if path != "/api/v1/health" and not path.endswith("/auth/login"):
            assert "401" in op["responses"], (method, path)  # every call needs a token


def test_unauthorized_answers_document_www_authenticate(document: dict[str, Any]) -> None:
    documented = [op for _, _, op in operations(document) if "401" in op["responses"]]
    assert len(documented) >= 12
    for op in documented:
        header = op["responses"]["401"]["headers"]["WWW-Authenticate"]
        assert header["required"] is True, op["operationId"]


def _param(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    params = document["paths"][path][method]["parameters"]
    return next(p for p in params if p["name"] == name)["schema"]


def test_formats_are_documented_as_patterns(document: dict[str, Any]) -> None:
    for method in ("get", "put"):
        sha = _param(document, "/api/v1/photos/{sha256}", method, "sha256")
        assert sha["pattern"] == "^[0-9a-f]{64}$"
    for path in ("/api/v1/compliance", "/api/v1/compliance/{district_code}"):
        assert _param(document, path, "get", "term")["pattern"] == "^20[0-9]{2}-[12]$"
    code = _param(document, "/api/v1/compliance/{district_code}", "get", "district_code")
    assert code["pattern"] == "^[0-9]{6}$"


def test_push_ops_are_documented_with_the_visit_record(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    ops = schemas["PushRequest"]["properties"]["ops"]
    assert ops["items"] == {"$ref": "#/components/schemas/DocumentedOp"}
    assert ops["maxItems"] == 500
    record = schemas["DocumentedOp"]["properties"]["record"]["anyOf"]
    assert {"$ref": "#/components/schemas/VisitRecord"} in record
    photos = schemas["VisitRecord"]["properties"]["photos"]["items"]
    assert photos["pattern"] == "^[0-9a-f]{64}$"


def test_photo_upload_body_is_declared_as_image_bytes(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/v1/photos/{sha256}"]["put"]["requestBody"]
    assert body["required"] is True
    assert body["content"] == {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}


def test_pull_and_compliance_answers_are_typed(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def answer(path: str) -> dict[str, Any]:
        op = document["paths"][f"/api/v1{path}"]["get"]
        return op["responses"]["200"]["content"]["application/json"]["schema"]

    assert answer("/compliance") == {"$ref": "#/components/schemas/ComplianceReports"}
    assert answer("/compliance/{district_code}") == {
        "$ref": "#/components/schemas/ComplianceReport"
    }
    report = schemas["ComplianceReport"]["properties"]
    assert report["home_delivery"] == {"$ref": "#/components/schemas/HomeDeliveryOut"}
    assert answer("/sync/pull") == {"$ref": "#/components/schemas/PullPage"}
    items = schemas["PullPage"]["properties"]["changes"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == {"school", "student", "assignment", "visit", "policy"}
    for ref in mapping.values():
        record = schemas[ref.rsplit("/", 1)[1]]["properties"]["record"]
        typed = [option for option in record["anyOf"] if option != {"type": "null"}]
        assert typed and all("$ref" in option for option in typed), ref


def test_unsupported_methods_answer_405_with_allow(server: LiveServer, document) -> None:
    """TRACE (or any undeclared method) on every path: 405, an Allow header naming every method
    the path serves (GET and PUT for a photo: two routes share it), and the error body."""
    for path, item in document["paths"].items():
        declared = {m.upper() for m in item if m in METHODS}
        url = server.url + path.replace("{sha256}", "0" * 64).replace("{district_code}", "330127")
        url = url.replace("{token_id}", "1").replace("{district}", "default")
        url = url.replace("{effective_from}", "2025-09-01")
        for method in ("TRACE", "PATCH", "DELETE"):
            if method in declared:
                continue
            response = requests.request(method, url, timeout=30)
            assert response.status_code == 405, (method, path)
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed == declared, (method, path, allowed)
            error = response.json()["error"]
            assert error["code"] == "method_not_allowed"
            assert error["message"] == "此地址不支持该请求方法"


@pytest.fixture
def populated(world: World, factory: Factory) -> World:
    """Something of every entity a pull sends: schools, children, assignments, visits, policy."""
    admin = factory.login(factory.user("admin", None))
    put = admin.put(f"/policies/{world.district}/2020-09-01", json={"geofence_m": 800})
    assert put.status_code == 200, put.text
    world.t.push(upsert(home_visit(world.student)))
    world.i.push(upsert(itinerant_visit(world.school)))
    return world


def test_answers_conform_to_the_document(server: LiveServer, populated: World) -> None:
    """Generated requests against a live server with a signed-in token; every answer must have
    a documented status, content type, headers and body. Bounded: at most 40 cases an
    operation and a time budget, so it stays a few hundred requests per database."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    # Setting policy and revoking devices would change other tests' world (own tests cover them).
    schema = schema.exclude(path_regex=r"/policies/").exclude(path_regex=r"/revoke$")
    deadline = time.monotonic() + 300
    sent: dict[str, str] = {}  # the token of the current pass
    tried = 0
    for token in (populated.c.token, populated.t.token):
        sent.clear()
        sent["Authorization"] = f"Bearer {token}"
        for result in schema.get_all_operations():
            operation = result.ok()
            if time.monotonic() > deadline:
                break

            @given(case=operation.as_strategy())
            @settings(
                max_examples=40,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case) -> None:
                response = case.call(headers=sent, timeout=30)
                case.validate_response(response, checks=CONFORMANCE, headers=sent)

            check()
            tried += 1
    assert tried >= 20  # both tokens over every operation but the excluded ones


def test_responses_helper_documents_any_status_a_route_adds() -> None:
    """One line per route: ``responses=errors.responses(...)`` (429 included, for throttling)."""
    from fastapi import FastAPI

    from server import docs, errors

    app = FastAPI(docs_url=None, redoc_url=None, separate_input_output_schemas=False)
    docs.install(app)

    @app.post("/throttled", status_code=204, responses=errors.responses(401, 429))
    def throttled() -> None:
        return None

    answers = app.openapi()["paths"]["/throttled"]["post"]["responses"]
    assert set(answers) == {"204", "401", "429"}
    for status in ("401", "429"):
        assert answers[status]["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}
        assert answers[status]["description"]
    assert "ErrorResponse" in app.openapi()["components"]["schemas"]


def test_pulled_records_are_typed_and_leave_out_what_a_role_does_not_get(world: World) -> None:
    """The typed pull answer drops server bookkeeping (``seq``) and sends no nulls for the
    fields a role does not get: they stay absent, as before the records were typed."""

    def student_of(client) -> dict[str, Any]:
        changes = client.get("/sync/pull").json()["changes"]
        return next(c["record"] for c in changes if c["id"] == world.student)

    manager = student_of(world.c)
    assert "seq" not in manager and manager["certified"] in (True, False)
    teacher = student_of(world.t)
    assert "seq" not in teacher and "certified" not in teacher and "active" not in teacher
    assert teacher["guardian_phone"] is not None
