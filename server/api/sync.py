"""Sync: push ops, pull changes (contract.md)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

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
# out rather than sent as null (exclude_unset), as they always were.
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
) -> dict[str, Any]:
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
    # As a dict of what was set: validated from the model itself, every field would count as
    # set, and an absent calendar would go out as null.
    return page.model_dump(exclude_unset=True)
