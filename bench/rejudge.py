"""How long re-judging a province's stored visits takes after a policy version, and how long
each page holds the write lock.

Run: ``.venv/bin/python bench/rejudge.py`` (``--city`` adds the city-wide version, which
judges all 1,000,000 visits and takes minutes; ``--page N`` sets the page size, default the
server's ``SONGJIAO_REJUDGE_PAGE_SIZE``).

Saving a version writes it and a re-judging job together (server/services/policies.save_policy);
the job then runs a page per transaction (server/services/rejudge_jobs.run), as the saving
request and the background worker run it. This measures the save, then the job to its end, on a
copy of bench/compliance.py's dataset (90 districts, 1,000,000 visits of term 2025-1; built first
if not cached): a version for one district from the term's first day, and with ``--city`` a
city-wide one. The dataset's visit records carry no check-in, so re-judging adds ``no_gps`` to
nearly every visit: the figures are the worst case, every visit judged also written. Besides the
total it prints the longest and the median page: the time a push may wait for the lock.

Before the job (2026-12-02, the 2-core test machine, niced, beside other benchmarks, SQLite):
one district, 6,517 visits judged and changed in 6.0 s (about 1,080 a second); city-wide,
990,090 judged, 983,573 changed in 1,187 s (about 830 a second, 20 minutes), all in one
transaction holding the write lock, so phones' pushes waited that long.

As a job (2026-12-02, same machine, niced, beside another engineer's tests; pages of 250): one
district 6,517 visits in 2.0 s (3,313 a second; pages: median 75 ms, longest 109 ms); city-wide
990,090 judged, 983,573 changed in 410 s (2,413 a second), 3,961 pages, median 95 ms, longest
1,346 ms: the longest a push waited for the lock. bench/RESULTS.md section 12.
"""

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import compliance
from _common import machine
from sqlmodel import Session

from server.db import make_engine, migrate
from server.models import RejudgeJob
from server.services import rejudge_jobs
from server.services.policies import save_policy
from server.settings import get_settings
from shared.policy import PolicyParams


def save(url: str, district: str | None, page_size: int) -> dict[str, float]:
    """Save a version, then run its job page by page; the figures of both."""
    engine = make_engine(url)
    owner = rejudge_jobs.new_owner()
    pages: list[float] = []
    with Session(engine) as session:
        started = time.perf_counter()
        saved = save_policy(
            session,
            actor="bench",
            district_code=district,
            effective_from=compliance.TERM_FIRST,
            sent=PolicyParams(service_min_minutes=70),
            owner=owner,
        )
        session.commit()
        saving = time.perf_counter() - started
        assert saved.job is not None and saved.job.id is not None
        job_id = saved.job.id
        outcome = rejudge_jobs.Page.MORE
        while outcome == rejudge_jobs.Page.MORE:  # ends: each page moves the cursor
            begun = time.perf_counter()
            outcome = rejudge_jobs.run_page(session, job_id, owner=owner, page_size=page_size)
            session.commit()
            pages.append(time.perf_counter() - begun)
        seconds = time.perf_counter() - started
        job = session.get(RejudgeJob, job_id)
        assert job is not None and outcome == rejudge_jobs.Page.DONE
        judged, changed = job.judged, job.changed
    engine.dispose()
    return {
        "saving": saving,
        "seconds": seconds,
        "judged": judged,
        "changed": changed,
        "pages": len(pages),
        "longest_page": max(pages),
        "median_page": statistics.median(pages),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--city", action="store_true", help="also the city-wide version")
    parser.add_argument("--page", type=int, default=get_settings().rejudge_page_size)
    args = parser.parse_args()
    source = compliance.dataset_path()
    if not source.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
        compliance.build(source)
    print(machine())
    with tempfile.TemporaryDirectory(dir=source.parent) as tmp:
        copy = Path(tmp) / "rejudge.db"
        shutil.copyfile(source, copy)
        url = f"sqlite:///{copy}"
        migrate(url)
        with sqlite3.connect(copy) as conn:
            # The dataset's records hold only id and kind (the report never reads them); the
            # judge reads a visit's times from its record, as a pushed record carries them.
            conn.execute(
                "UPDATE visit SET record = json_set(record, "
                "'$.started_at', replace(started_at, ' ', 'T') || '+00:00', "
                "'$.ended_at', replace(ended_at, ' ', 'T') || '+00:00')"
            )
        runs = [("one district (339000)", "339000")] + ([("city-wide", None)] if args.city else [])
        for label, district in runs:
            r = save(url, district, args.page)
            rate = r["judged"] / r["seconds"] if r["seconds"] else 0
            print(
                f"{label}: saved in {r['saving']:.2f} s; judged {r['judged']:,} visits, "
                f"changed {r['changed']:,}, {r['seconds']:.1f} s ({rate:,.0f} visits/s) in "
                f"{r['pages']:,} pages of {args.page}: longest {r['longest_page'] * 1000:.0f} ms, "
                f"median {r['median_page'] * 1000:.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
