"""SyncScheduler stops when cancelled, even right after ``trigger()`` (the app stops it on sign-out
and when the page closes; a swallowed cancellation would leave a sync loop running)."""

import asyncio

from mobile.core.sync import SyncReport, SyncScheduler


def test_cancel_right_after_trigger_stops_the_scheduler() -> None:
    rounds: list[int] = []

    def sync_once() -> SyncReport:
        rounds.append(1)
        return SyncReport(ok=True)

    async def scenario() -> None:
        scheduler = SyncScheduler(sync_once, idle_s=300)
        task = asyncio.create_task(scheduler.run())
        for _ in range(500):  # until the first round is done and it sleeps
            await asyncio.sleep(0.01)
            awaiting = getattr(task.get_coro(), "cr_await", None)
            if rounds and getattr(awaiting, "__name__", "") == "_pause":
                break
        scheduler.trigger()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done and task.cancelled(), (rounds, task)

    asyncio.run(asyncio.wait_for(scenario(), 20))
