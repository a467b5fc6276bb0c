"""The background worker that finishes re-judging jobs (issue 10): one thread per server process.

A saving request runs its job's first pages itself and, when time runs out, releases the job and
wakes this worker; the worker also looks every ``poll`` seconds for jobs nobody runs (queued by
another process, or left running by a process that died: their lease ran out). It claims one
job at a time through ``rejudge_jobs.claim`` (a conditional UPDATE, so several processes on
PostgreSQL never take the same job) and runs it to its end, stopping between pages on shutdown.

A thread, not an asyncio task: a page is blocking database work of a few hundred ms, and a
thread of its own takes nothing from the pool that runs the requests.
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from server.models import RejudgeJob
from server.services import rejudge_jobs

log = logging.getLogger("songjiao.rejudge")

PAUSE_S = 0.02  # between pages: writers waiting for the lock go first
JOIN_S = 30.0  # how long shutdown waits for the page in hand (a page is well under this)


class RejudgeWorker:
    def __init__(
        self,
        engine: Callable[[], Engine],
        *,
        page_size: int,
        lease_seconds: float,
        poll_seconds: float,
    ) -> None:
        self._engine = engine  # called in the thread: the engine is made on first use
        self.page_size, self.lease_seconds, self.poll_seconds = (
            page_size,
            lease_seconds,
            poll_seconds,
        )
        self.owner = rejudge_jobs.new_owner()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="rejudge-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (a request left a job unfinished)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop between pages and wait for the thread; the job in hand goes back to the queue."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_S)

    def _loop(self) -> None:
        while not self._stop.is_set():  # ends on stop(); each turn waits or runs one job
            try:
                ran = self.run_once()
            except SQLAlchemyError:  # the database away for a moment: try again next turn
                log.warning("re-judging worker could not reach the database", exc_info=True)
                ran = False
            except Exception:  # a bug must not end the thread: the next turn tries again
                log.exception("re-judging worker: unexpected error")
                ran = False
            if not ran:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_once(self) -> bool:
        """Claim the oldest job that may be claimed and run it to its end (or to shutdown);
        False when there was none to take."""
        with Session(self._engine()) as session:
            for job_id in rejudge_jobs.claimable(session, lease_seconds=self.lease_seconds):
                if rejudge_jobs.claim(
                    session, job_id, owner=self.owner, lease_seconds=self.lease_seconds
                ):
                    rejudge_jobs.run(
                        session,
                        job_id,
                        owner=self.owner,
                        page_size=self.page_size,
                        pause=PAUSE_S,
                        stop=self._stop.is_set,
                    )
                    return True
            session.rollback()
        return False


def run_saved(
    worker: RejudgeWorker, session: Session, job: RejudgeJob, *, owner: str, seconds: float
) -> RejudgeJob:
    """After the saving request committed ``job`` (running under ``owner``): run its first
    pages within ``seconds``, then hand what is left to ``worker``. Returns the job as it now
    stands (done, when the change was small)."""
    job_id = job.id
    assert job_id is not None
    outcome = rejudge_jobs.run(
        session, job_id, owner=owner, page_size=worker.page_size, seconds=seconds, pause=PAUSE_S
    )
    if outcome != rejudge_jobs.Page.DONE:
        worker.wake()
    found = session.get(RejudgeJob, job_id, populate_existing=True)
    assert found is not None
    return found
