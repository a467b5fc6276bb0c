"""``songjiao demo``: the invented Hangzhou data set, loaded through the real services.

The roster goes in through the ``registry`` upserts (load_roster), photos through
``photos.store`` and visits through ``sync_push.push`` as the phones send them (load_fieldwork),
and the coordinators' decisions through ``review.review_visit`` (load_reviews). Every id (op ids
included) derives from fixed seeds, so a second run finds everything in place: roster rows
unchanged, every visit's op already applied, nothing reviewed twice, no change number spent.
"""

from collections.abc import Mapping
from datetime import date

from sqlmodel import Session

from server.demo.load_fieldwork import push_visits, upload_photos
from server.demo.load_reviews import apply_reviews
from server.demo.load_roster import load_roster
from server.demo.plan import build_plan
from server.demo.summary import Tally, summary
from shared.terms import TermDates


def load(
    session: Session,
    *,
    today: date,
    calendar: Mapping[str, TermDates] | None = None,
    console_url: str = "http://127.0.0.1:8000/login",
) -> str:
    """Load (or confirm) the demo data as it stands on ``today`` (build_plan); returns the
    summary the CLI prints, which gives ``console_url`` as the console's address."""
    plan, tally = build_plan(today, calendar), Tally()
    load_roster(session, plan, tally)
    session.commit()
    upload_photos(session, plan, tally)
    push_visits(session, plan, tally)
    apply_reviews(session, plan, tally)
    session.commit()
    return summary(plan, tally, console_url)
