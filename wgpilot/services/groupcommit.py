"""Group commit: requests that arrive while a write transaction is in flight wait and
go together into the next one, so N concurrent creations cost one ``BEGIN
IMMEDIATE`` … ``COMMIT`` (one fsync, one turn of the single writer) instead of N.

A job's caller is answered only once the batch holding its job has committed (or
with that job's own error). The batch function returns one outcome per job — a
result or the exception meant for that job alone. When the batch as a whole fails
(the commit, the kernel, a bug), every job of it is run again in a batch of its own,
so each caller gets exactly the outcome it would have had without grouping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class GroupCommit(Generic[J, R]):
    def __init__(
        self, run: Callable[[Sequence[J]], Awaitable[Sequence[R | BaseException]]], *, max_batch: int = 64
    ) -> None:
        self._run = run
        self._max = max_batch
        self._waiting: list[tuple[J, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, job: J) -> R:
        """Run ``job`` in the next batch; returns once that batch has committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._runner is None:
            # A job that finds nothing in flight starts a batch at once: grouping adds
            # no latency, it only collects what queues behind a running commit.
            self._runner = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                await self._batch(batch)
        finally:
            self._runner = None
            if self._waiting:  # only when the drain itself was cancelled (shutdown)
                for _, future in self._waiting:
                    if not future.done():
                        future.cancel()
                self._waiting = []

    async def _batch(self, batch: list[tuple[J, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._run([job for job, _ in batch])
            assert len(outcomes) == len(batch)
        except BaseException as exc:
            if len(batch) == 1 or isinstance(exc, asyncio.CancelledError):
                for _, future in batch:
                    _settle(future, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
            for item in batch:  # nothing of the batch was committed: each on its own
                await self._batch([item])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # the caller went away; its job's outcome stands regardless
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
