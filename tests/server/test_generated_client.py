"""A client generated from /openapi.json by openapi-python-client (issue 7, point 13): every
operation generates, with no warning, and the client signs in, uploads a photo, pushes a visit
and pulls it back from a live server.

The generator reads the document from a local file (``--path``), so it needs no network.
"""

import hashlib
import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import World
from tests.factories import PASSWORD, home_visit, upsert
from tests.live import LiveServer

PACKAGE = "songjiao_client"
# The photo body is raw JPEG or PNG bytes; the generator knows raw bodies as octet-stream.
CONFIG = {
    "package_name_override": PACKAGE,
    "project_name_override": "songjiao-client",
    "content_type_overrides": {
        "image/jpeg": "application/octet-stream",
        "image/png": "application/octet-stream",
    },
    "post_hooks": [],  # no formatter run: nothing but the generator itself
}


def generate(server: LiveServer, where: Path) -> str:
    """Generate the client into ``where``; returns what the generator printed."""
    document = where / "openapi.json"
    document.write_bytes(requests.get(f"{server.url}/openapi.json", timeout=30).content)
    config = where / "config.json"
    config.write_text(json.dumps(CONFIG))
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document)]
        + ["--output-path", str(where / "client"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def generated(server: LiveServer, tmp_path_factory: pytest.TempPathFactory):
    where = tmp_path_factory.mktemp(f"client-{server.backend}")
    output = generate(server, where)
    sys.path.insert(0, str(where / "client"))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]  # the other backend's copy
    try:
        yield output, importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where / "client"))


def test_every_operation_generates_without_warnings(generated, server: LiveServer) -> None:
    output, package = generated
    assert "Warning" not in output and "WARNING" not in output, output
    assert "will not be generated" not in output, output
    document = requests.get(f"{server.url}/openapi.json", timeout=30).json()
    root = Path(package.__file__).parent / "api"
    made = {p.stem for p in root.rglob("*.py") if p.stem != "__init__"}
    wanted = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert wanted <= made, wanted - made


def _jpeg() -> bytes:
    image = Image.frombytes("RGB", (32, 24), os.urandom(32 * 24 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def test_generated_client_logs_in_uploads_pushes_and_pulls(
    generated, server: LiveServer, world: World
) -> None:
    _, package = generated
    auth = importlib.import_module(f"{PACKAGE}.api.auth.login")
    upload = importlib.import_module(f"{PACKAGE}.api.photos.upload")
    push = importlib.import_module(f"{PACKAGE}.api.sync.push")
    pull = importlib.import_module(f"{PACKAGE}.api.sync.pull")
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")

    anonymous = package.Client(base_url=server.url, raise_on_unexpected_status=True)
    body = models.LoginIn(username=world.teacher, password=PASSWORD, device_name="生成的客户端")
    signed_in = auth.sync_detailed(client=anonymous, body=body)
    assert signed_in.status_code == 200
    assert signed_in.parsed.user.username == world.teacher
    client = package.AuthenticatedClient(base_url=server.url, token=signed_in.parsed.token)

    refused = auth.sync_detailed(
        client=anonymous, body=models.LoginIn(username=world.teacher, password="wrong")
    )
    assert refused.status_code == 401 and refused.parsed.error.code == "bad_credentials"

    data = _jpeg()
    name = hashlib.sha256(data).hexdigest()
    photo = types.File(payload=io.BytesIO(data), file_name=f"{name}.jpg", mime_type="image/jpeg")
    stored = upload.sync_detailed(name, client=client, body=photo)
    assert stored.status_code == 201 and stored.parsed.sha256 == name

    record = home_visit(world.student, photos=[name])
    op = models.DocumentedOp.from_dict(upsert(record))  # the push op is a typed model too
    pushed = push.sync_detailed(client=client, body=models.PushRequest(ops=[op]))
    assert pushed.status_code == 200
    (result,) = pushed.parsed.results
    assert result.status == "applied" and result.id == record["id"]

    page = pull.sync_detailed(client=client)
    assert page.status_code == 200
    changes = {(c.entity, c.id): c for c in page.parsed.changes}
    visit = changes[("visit", record["id"])]
    assert isinstance(visit, models.VisitChange)  # typed by its entity
    assert visit.record.photos == [name] and visit.record.teacher == world.teacher
    student = changes[("student", world.student)]
    assert isinstance(student, models.StudentChange) and student.record.id == world.student
