"""The webhook receiver: an ASGI app (starlette) that verifies, deduplicates and queues.

Order of checks for `POST /webhook`, each answered without reading further:

| check | response |
|---|---|
| body larger than `bot.max_payload_bytes` (declared or actual) | 413 |
| `X-GitHub-Event` or `X-GitHub-Delivery` missing | 400 |
| `X-Hub-Signature-256` missing | 401 |
| signature does not match (HMAC SHA-256, constant-time compare) | 401 |
| body is not JSON / does not match its event | 400 |
| event not subscribed to (not issues, issue_comment, pull_request, ping) | 422 |
| delivery id seen before (a replay or a redelivery) | 409 |
| relevant event, job queued (on disk before this answer) / coalesced | 202 |
| subscribed event that starts nothing (other action, untrusted user, …) | 200 |
| `ping` | 200 |

The signature is checked before anything in the body is looked at, and before the
delivery id is recorded, so an unsigned request cannot use up a delivery id.

Queue writes are group-committed: deliveries that arrive while a commit is being
fsynced wait for the next one and share it, so a burst costs one fsync per batch rather
than per delivery; each is still answered only after its own batch is on disk. The
commits run in a thread, so the event loop keeps reading requests meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

from agent.config import BotSection
from bot.queue import Accepted, Delivery, JobQueue
from bot.triggers import HANDLED_EVENTS, Ignored, PayloadError, decide

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, body: bytes, header: str) -> bool:
    expected = sign(secret, body).encode("ascii")
    # compare_digest on bytes of possibly different length is still constant-time in the
    # contents; a non-ASCII header simply fails.
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


class _TooLarge(Exception):
    pass


class GroupCommitter:
    """Batches concurrent `accept`s into shared transactions (see the module docstring)."""

    def __init__(self, queue: JobQueue, max_batch: int = 256):
        self.queue = queue
        self.max_batch = max_batch
        self._pending: list[tuple[Delivery, asyncio.Future[Accepted]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, delivery: Delivery) -> Accepted:
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        from starlette.concurrency import run_in_threadpool

        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await run_in_threadpool(self.queue.accept_batch, [d for d, _ in batch])
            except Exception as exc:  # nothing in the batch was acknowledged
                log.exception("queue commit failed for %d deliveries", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


async def _read_capped(request: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(queue: JobQueue, secret: bytes, settings: BotSection, path: str = "/webhook"):
    """The ASGI app. `secret` is the webhook secret as bytes; never logged."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    limit = settings.max_payload_bytes
    committer = GroupCommitter(queue)

    def answer(code: int, **body: Any) -> JSONResponse:
        return JSONResponse(body, status_code=code)

    async def webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return answer(400, error="bad Content-Length")
            if int(declared) > limit:
                return answer(413, error=f"payload larger than {limit} bytes")
        event = request.headers.get("x-github-event")
        delivery = request.headers.get("x-github-delivery")
        if not event or not delivery:
            return answer(400, error="X-GitHub-Event and X-GitHub-Delivery are required")
        if len(delivery) > 200:
            return answer(400, error="X-GitHub-Delivery is too long")
        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            return answer(401, error="X-Hub-Signature-256 is required")
        try:
            body = await _read_capped(request, limit)
        except _TooLarge:
            return answer(413, error=f"payload larger than {limit} bytes")
        if not signature_ok(secret, body, signature):
            log.warning("delivery %s (%s): bad signature", delivery, event)
            return answer(401, error="signature does not match")
        if event == "ping":
            return answer(200, status="pong")
        if event not in HANDLED_EVENTS:
            return answer(
                422,
                error=f"event '{event}' is not handled; subscribe to "
                f"{', '.join(sorted(HANDLED_EVENTS))}",
            )
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            decision = decide(event, payload, settings)
        except (ValueError, PayloadError) as exc:
            return answer(400, error=f"payload: {exc}")
        trigger = None if isinstance(decision, Ignored) else decision
        reason = decision.reason if isinstance(decision, Ignored) else ""
        try:
            accepted = await committer.submit(Delivery(delivery, event, trigger, reason))
        except Exception:
            return answer(503, error="could not queue the delivery; retry later")
        if accepted.status == "duplicate":
            return answer(409, error="delivery already received", job=accepted.job_id)
        if accepted.status == "ignored":
            log.info("delivery %s (%s): ignored: %s", delivery, event, reason)
            return answer(200, status="ignored", reason=reason)
        log.info("delivery %s (%s): %s job %s", delivery, event, accepted.status, accepted.job_id)
        return answer(202, status=accepted.status, job=accepted.job_id, reason=accepted.reason)

    async def health(request: Request) -> JSONResponse:
        counts = await run_in_threadpool(queue.counts)
        return answer(200, status="ok", queue=counts)

    return Starlette(
        routes=[
            Route(path, webhook, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
