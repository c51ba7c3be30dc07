from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from wgpilot.services.groupcommit import GroupCommit


class Recorder:
    def __init__(self, fail_batches_over: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_over = fail_batches_over
        self.gate = asyncio.Event()

    async def run(self, jobs: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(jobs))
        await self.gate.wait()
        if self.fail_over is not None and len(jobs) > self.fail_over:
            raise RuntimeError("batch failed")
        return [ValueError(f"bad {j}") if j < 0 else j * 10 for j in jobs]


async def test_jobs_arriving_during_a_batch_go_together_into_the_next() -> None:
    rec = Recorder()
    gc: GroupCommit[int, int] = GroupCommit(rec.run)
    first = asyncio.ensure_future(gc.submit(1))
    await asyncio.sleep(0)  # the first batch is running, with job 1 alone
    rest = [asyncio.ensure_future(gc.submit(j)) for j in (2, 3, 4)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 10 and [await r for r in rest] == [20, 30, 40]
    assert rec.batches == [[1], [2, 3, 4]]


async def test_one_jobs_error_is_its_own() -> None:
    rec = Recorder()
    rec.gate.set()
    gc: GroupCommit[int, int] = GroupCommit(rec.run)
    results = await asyncio.gather(*(gc.submit(j) for j in (1, -2, 3)), return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError)


async def test_a_failed_batch_is_run_again_job_by_job() -> None:
    rec = Recorder(fail_batches_over=1)
    gc: GroupCommit[int, int] = GroupCommit(rec.run)
    first = asyncio.ensure_future(gc.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(gc.submit(j)) for j in (2, 3)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert [await f for f in (first, *rest)] == [10, 20, 30]
    assert rec.batches == [[1], [2, 3], [2], [3]]


async def test_a_lone_jobs_failure_reaches_its_caller() -> None:
    rec = Recorder(fail_batches_over=0)
    rec.gate.set()
    gc: GroupCommit[int, int] = GroupCommit(rec.run)
    with pytest.raises(RuntimeError, match="batch failed"):
        await gc.submit(1)
    with pytest.raises(RuntimeError):  # the next job is served too: nothing left hanging
        await asyncio.wait_for(gc.submit(2), 1)


async def test_max_batch_splits_a_long_queue() -> None:
    rec = Recorder()
    rec.gate.set()
    gc: GroupCommit[int, int] = GroupCommit(rec.run, max_batch=2)
    assert await asyncio.gather(*(gc.submit(j) for j in range(5))) == [0, 10, 20, 30, 40]
    assert [len(b) for b in rec.batches] == [2, 2, 1]
