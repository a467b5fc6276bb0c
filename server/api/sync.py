"""Sync: push ops, pull changes (contract.md)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from server import errors
from server.deps import ScopeDep, SessionDep, SettingsDep
from server.models import utcnow
from server.services import sync_pull, sync_push
from shared.protocol import PullPage, PushRequest, PushResponse

router = APIRouter(tags=["sync"])


@router.post(
    "/sync/push", response_model=PushResponse, responses=errors.responses(400, 401, 413, 422, 503)
)
def push(body: PushRequest, scope: ScopeDep, session: SessionDep) -> PushResponse:
    results = sync_push.push(session, scope=scope, raw_ops=body.ops, now=utcnow())
    return PushResponse(results=results)


# Each record is typed by its entity (PullPage); fields a caller's role does not get are left
# out rather than sent as null (exclude_unset), as they always were. The page, validated once
# by the service, goes out as its JSON: validating it again as the response model cost a pull
# a third of its CPU (bench/request_cost.py).
@router.get(
    "/sync/pull",
    response_model=PullPage,
    response_model_exclude_unset=True,
    responses=errors.responses(400, 401, 422, 503),
)
def pull(
    scope: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[str | None, Query(max_length=20)] = None,
    calendar: Annotated[
        str | None,
        Query(
            max_length=40,
            description="The calendar tag the caller holds (empty: none): the page then"
            " carries the city's term calendar when the server's differs",
        ),
    ] = None,
) -> Response:
    # limit is a hint: clamp anything (even junk) into [1, server maximum] rather than refuse.
    try:
        wanted = int(limit) if limit is not None else settings.pull_max_limit
    except ValueError:
        wanted = settings.pull_max_limit
    wanted = max(1, min(wanted, settings.pull_max_limit))
    # Only a caller that asks is sent the calendar, and only when it changed: a contract client
    # sees exactly the pull it always did (docs/api.md).
    wants = calendar is not None and calendar != settings.calendar_tag
    terms = (settings.calendar(), settings.calendar_tag) if wants else None
    page = sync_pull.pull(session, scope=scope, cursor=cursor, limit=wanted, calendar=terms)
    # What was set only: an absent calendar is left out, not sent as null.
    return Response(page.model_dump_json(exclude_unset=True), media_type="application/json")
