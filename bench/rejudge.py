"""How long saving a policy version takes when it re-judges a province's stored visits.

Run: ``.venv/bin/python bench/rejudge.py`` (``--city`` adds the city-wide version, which
judges all 1,000,000 visits and takes minutes).

The console's policy page saves a version inside the request (server/console/policy_pages.py
→ server/services/policies.save_policy → server/services/rejudge.py) and shows the counts when
it ends. This measures that call on a copy of bench/compliance.py's dataset (90 districts,
1,000,000 visits of term 2025-1; built first if not cached): a version for one district from
the term's first day, and with ``--city`` a city-wide one. The dataset's visit records carry no
check-in, so re-judging adds ``no_gps`` to nearly every visit: the figures are the worst case,
every visit judged also written.

Measured 2026-12-02 on the 2-core test machine, niced, beside other benchmarks (SQLite): one
district, 6,517 visits judged and changed in 6.0 s (about 1,080 a second); city-wide, 990,090
judged, 983,573 changed in 1,187 s (about 830 a second, 20 minutes), all in one transaction
holding the write lock, so phones' pushes wait that long. bench/RESULTS.md does not have these
figures yet.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import compliance
from _common import machine
from sqlmodel import Session

from server.db import make_engine, migrate
from server.services.policies import save_policy
from shared.policy import PolicyParams


def save(url: str, district: str | None) -> tuple[float, int, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        saved = save_policy(
            session,
            actor="bench",
            district_code=district,
            effective_from=compliance.TERM_FIRST,
            sent=PolicyParams(service_min_minutes=70),
        )
        session.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    assert saved.rejudged is not None
    return seconds, saved.rejudged.judged, saved.rejudged.changed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--city", action="store_true", help="also the city-wide version")
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
        runs = [("one district (339000)", "339000")] + ([("city-wide", None)] if args.city else [])
        for label, district in runs:
            seconds, judged, changed = save(url, district)
            rate = judged / seconds if seconds else 0
            print(
                f"{label}: judged {judged:,} visits, changed {changed:,}, "
                f"{seconds:.1f} s ({rate:,.0f} visits/s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
