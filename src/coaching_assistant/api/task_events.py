"""Waking up when the worker publishes progress, instead of busy polling: for the status
long-poll (`wait_for_change`) and the event stream (`TaskWatch`).

Celery's Redis result backend publishes every state change (our PROGRESS updates included) on the
channel named after the task's result key. The worker commits progress to the database before it
publishes, so after a wake-up the database already holds the new values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import redis.asyncio as aioredis
from starlette.requests import Request

from coaching_assistant.core.task_queue import state_channel

logger = logging.getLogger(__name__)


async def wait_for_change(task_id: str, *, timeout: float,
                          changed: Callable[[], Awaitable[bool]]) -> None:
    """Return as soon as `changed()` is true (checked at each published state change) or at `timeout`."""
    found = state_channel(task_id)
    if found is None:
        await _poll(changed, timeout)
        return
    url, channel = found
    client = aioredis.from_url(url, socket_connect_timeout=3)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            # Subscribed before checking, so a change in between is not missed.
            if await changed():
                return
            deadline = asyncio.get_running_loop().time() + timeout
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
                if message is not None and await changed():
                    return
    except (aioredis.RedisError, OSError) as exc:
        logger.warning("Result backend unavailable for long-poll (%s); falling back to polling", exc)
        await _poll(changed, timeout)
    finally:
        await client.aclose()


class TaskWatch:
    """One subscription to a task's state channel, held for an event stream's whole life (not one
    per wake-up) and moved when the session's task changes (a retry, a re-queue). Without a channel
    to listen on (no task yet, a backend that does not publish, Redis unreachable), `changed`
    just waits POLL_SECONDS, and the caller reads the database again."""

    POLL_SECONDS = 1.0

    def __init__(self) -> None:
        self.task_id: str | None = None
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None

    async def follow(self, task_id: str | None) -> None:
        """Listen to `task_id` from now on. Read the state after this, so that a change in between
        is not missed."""
        await self.aclose()
        self.task_id = task_id
        found = state_channel(task_id) if task_id else None
        if found is None:
            return
        url, channel = found
        self._client = aioredis.from_url(url, socket_connect_timeout=3)
        try:
            self._pubsub = self._client.pubsub()
            await self._pubsub.subscribe(channel)
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("Result backend unavailable for an event stream (%s); polling the database", exc)
            await self.aclose()

    async def changed(self, timeout: float) -> None:
        """Return at the task's next published state change, or after `timeout` seconds (sooner,
        POLL_SECONDS, when there is nothing to listen to)."""
        if self._pubsub is None:
            await asyncio.sleep(min(timeout, self.POLL_SECONDS))
            return
        try:
            await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("Result backend lost during an event stream (%s); polling the database", exc)
            await self.aclose()

    async def aclose(self) -> None:
        # Shielded: a stream ends by cancellation (its client left), which would otherwise cut the
        # connection's close short and leave it to the garbage collector.
        with anyio.CancelScope(shield=True):
            if self._pubsub is not None:
                await self._pubsub.aclose()
            if self._client is not None:
                await self._client.aclose()
        self._pubsub = self._client = None


DISCONNECT_CHECK_SECONDS = 0.5


async def unless_disconnected(request: Request, waiting: Awaitable[Any]) -> None:
    """Run `waiting`, but stop it as soon as the client goes away: a long-poll whose browser left
    the page must not hold one of its user's slots until its timeout."""
    async def gone() -> None:
        while not await request.is_disconnected():
            await asyncio.sleep(DISCONNECT_CHECK_SECONDS)

    tasks = [asyncio.ensure_future(waiting), asyncio.ensure_future(gone())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # an error in the wait is the request's error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _poll(changed: Callable[[], Awaitable[bool]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not await changed():
        await asyncio.sleep(min(0.5, max(0.0, deadline - loop.time())))
