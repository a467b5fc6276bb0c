"""Generated requests from the OpenAPI document (schemathesis): whatever arrives, never a 500.

Endpoints whose side effects would change other tests' world are left out: setting city-wide
policy, revoking devices and signing a device out (which would revoke the fuzzer's own token
and leave every later operation tried with a dead one); each has its own tests.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.factories import Factory
from tests.live import LiveServer


@pytest.fixture(scope="session")
def api_schema(server: LiveServer):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return schema.exclude(path_regex=r"/policies/").exclude(path_regex=r"/revoke$|/auth/logout$")


@pytest.fixture(scope="session")
def admin_token(factory: Factory) -> str:
    client = factory.login(factory.user("admin", None), device="fuzz")
    assert client.token
    return client.token


def test_no_request_makes_the_server_fail(api_schema, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    tried = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case) -> None:
            response = case.call(headers=headers, timeout=30)
            assert response.status_code < 500, (case.method, case.path, response.text[:500])
            if response.status_code >= 400:
                body = response.json()
                assert body["error"]["code"] and body["error"]["message"]

        check()
        tried += 1
    assert tried >= 10  # every API operation but the excluded ones
