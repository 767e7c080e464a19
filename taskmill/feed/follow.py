"""Following the log live: new events as they are appended, plus this process's progress."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable

from taskmill.feed.models import SchedulerEvent, TaskProgress
from taskmill.feed.reader import FeedFilter, FeedReader, ProgressInbox
from taskmill.projections.operational.event_source import EventSource
from taskmill.runtime.context import TaskContext


async def follow(
    reader: FeedReader,
    source: EventSource,
    position: int,
    feed_filter: FeedFilter,
    *,
    listeners: list[Callable[[TaskContext], None]],
    running: Iterable[TaskContext],
    to_progress: Callable[[TaskContext], TaskProgress],
    poll_seconds: float,
) -> AsyncGenerator[SchedulerEvent, None]:
    """Yield the log's events after `position` as they are appended (the log is polled every
    `poll_seconds`, and woken early by local progress), with the latest progress per task
    reported by executors in this process (a new follower first gets the last report of each
    task running here). The progress listener is removed when the generator closes."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def nudge() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(wake.set)

    inbox = ProgressInbox(nudge)

    def listener(context: TaskContext) -> None:
        report = to_progress(context)
        if feed_filter.matches(report):
            inbox.put(report)

    def next_page(after: int) -> tuple[int, list[SchedulerEvent]]:
        head = source.head()
        return (after, []) if after >= head else reader.read_page(after, head)

    listeners.append(listener)
    for context in running:  # progress reported before now
        state = context.progress_state
        if state.fraction is not None or state.message is not None:
            listener(context)
    try:
        while True:
            wake.clear()
            progress = inbox.drain()  # before reading: the log then has their starts
            while True:
                reached, events = await asyncio.to_thread(next_page, position)
                if reached == position:
                    break
                position = reached
                for event in events:
                    yield event
            for report in reader.fresh_progress(progress):
                yield report
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_seconds)
    finally:
        with contextlib.suppress(ValueError):
            listeners.remove(listener)
