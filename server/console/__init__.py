"""The coordinator console: server-rendered pages on the API's server (contract.md)."""

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from server.console import (
    account,
    assignments,
    audit_pages,
    auth,
    devices,
    exports,
    pages,
    policy_pages,
    rejudge_pages,
    reviews,
    roster,
    subsidy_pages,
    users,
    visit_review,  # the desk: bulk review on the visit log
    visits,
)
from server.console.web import SESSION_HOURS, STATIC

SESSION_MAX_AGE = SESSION_HOURS * 3600


def install(app: FastAPI) -> None:
    """Mount the console's routes and its stylesheet (served locally: it must work offline).

    The session middleware it relies on is added in server.main.
    """
    for module in (auth, account, pages, visits, reviews, exports, devices):
        app.include_router(module.router)
    # The desk (issue 10): roster, assignments, staff; subsidies, policy, audit.
    desk = (roster, assignments, users, subsidy_pages, policy_pages, rejudge_pages, audit_pages)
    for module in desk:
        app.include_router(module.router)
    app.include_router(visit_review.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
