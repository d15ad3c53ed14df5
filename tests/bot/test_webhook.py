"""Webhook security: every rejected delivery gets the right status and queues nothing."""

from __future__ import annotations

import json
import uuid
import warnings

import pytest

from bot.webhook import sign, signature_ok
from tests.bot.conftest import REPO, SECRET


@pytest.fixture
def client(deliver):
    return deliver.client


@pytest.fixture
def labeled(github) -> bytes:
    number = github.add_issue(REPO, "bug", "details")
    return json.dumps(github.labeled_event(REPO, number, "engram", "maintainer")).encode()


def _headers(body: bytes, event: str = "issues", delivery: str | None = None, **extra) -> dict:
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }
    headers.update(extra)
    return {k: v for k, v in headers.items() if v is not None}


def _nothing_queued(ctx) -> None:
    counts = ctx.queue.counts()
    assert counts["queued"] == 0 and counts["deliveries"] == 0, counts


def test_our_signature_matches_githubs_reference_implementation():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from githubkit import webhooks
    body = b'{"zen": "Keep it logically awesome."}'
    assert webhooks.verify(SECRET.decode(), body, sign(SECRET, body))
    assert signature_ok(SECRET, body, sign(SECRET, body))
    assert not signature_ok(SECRET, body + b" ", sign(SECRET, body))
    assert not signature_ok(SECRET, body, "sha256=" + "0" * 64)
    assert not signature_ok(SECRET, body, "sha256=é")


def test_signed_relevant_delivery_is_queued(client, ctx, labeled):
    response = client.post("/webhook", content=labeled, headers=_headers(labeled))
    assert response.status_code == 202
    assert ctx.queue.counts()["queued"] == 1


def test_bad_signature_is_rejected_and_does_not_use_up_the_delivery_id(client, ctx, labeled):
    delivery = str(uuid.uuid4())
    forged = _headers(labeled, delivery=delivery)
    forged["X-Hub-Signature-256"] = sign(b"not-the-secret-at-all", labeled)
    response = client.post("/webhook", content=labeled, headers=forged)
    assert response.status_code == 401
    _nothing_queued(ctx)
    # The genuine delivery with that id still gets through.
    genuine = client.post("/webhook", content=labeled, headers=_headers(labeled, delivery=delivery))
    assert genuine.status_code == 202


def test_body_changed_after_signing_is_rejected(client, ctx, labeled):
    tampered = labeled.replace(b'"maintainer"', b'"mallory"')
    response = client.post("/webhook", content=tampered, headers=_headers(labeled))
    assert response.status_code == 401
    _nothing_queued(ctx)


def test_missing_signature_is_rejected(client, ctx, labeled):
    headers = _headers(labeled)
    del headers["X-Hub-Signature-256"]
    assert client.post("/webhook", content=labeled, headers=headers).status_code == 401
    _nothing_queued(ctx)


def test_replayed_delivery_is_rejected(client, ctx, labeled):
    headers = _headers(labeled)
    assert client.post("/webhook", content=labeled, headers=headers).status_code == 202
    replay = client.post("/webhook", content=labeled, headers=headers)
    assert replay.status_code == 409
    counts = ctx.queue.counts()
    assert counts["queued"] == 1 and counts["deliveries"] == 1


def test_oversize_payload_is_rejected(client, ctx):
    body = b'{"pad": "' + b"x" * ctx.settings.max_payload_bytes + b'"}'
    response = client.post("/webhook", content=body, headers=_headers(body))
    assert response.status_code == 413
    _nothing_queued(ctx)


def test_oversize_payload_without_content_length_is_rejected(client, ctx):
    chunk = b"x" * 65536
    chunks = (ctx.settings.max_payload_bytes // len(chunk)) + 2

    def stream():
        for _ in range(chunks):
            yield chunk

    headers = _headers(b"")
    response = client.post("/webhook", content=stream(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    _nothing_queued(ctx)


def test_unknown_event_is_rejected(client, ctx):
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    response = client.post("/webhook", content=body, headers=_headers(body, event="push"))
    assert response.status_code == 422
    _nothing_queued(ctx)


def test_missing_event_headers_are_rejected(client, ctx, labeled):
    headers = _headers(labeled)
    del headers["X-GitHub-Event"]
    assert client.post("/webhook", content=labeled, headers=headers).status_code == 400
    _nothing_queued(ctx)


def test_signed_garbage_is_rejected(client, ctx):
    for body in (b"not json", b"[1, 2]", b'{"action": "labeled"}'):
        response = client.post("/webhook", content=body, headers=_headers(body))
        assert response.status_code == 400, body
    _nothing_queued(ctx)


def test_ping_is_answered(client, ctx):
    body = b'{"zen": "Design for failure.", "hook_id": 1}'
    response = client.post("/webhook", content=body, headers=_headers(body, event="ping"))
    assert response.status_code == 200 and response.json()["status"] == "pong"


def test_irrelevant_event_is_acknowledged_but_starts_nothing(client, ctx, github):
    number = github.add_issue(REPO, "bug", "details")
    payload = github.labeled_event(REPO, number, "documentation", "maintainer")
    body = json.dumps(payload).encode()
    response = client.post("/webhook", content=body, headers=_headers(body))
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    counts = ctx.queue.counts()
    assert counts["queued"] == 0 and counts["deliveries"] == 1


def test_health_reports_queue_counts(client, ctx, labeled):
    client.post("/webhook", content=labeled, headers=_headers(labeled))
    health = client.get("/healthz").json()
    assert health["queue"]["queued"] == 1


def test_concurrent_deliveries_share_commits_and_each_is_decided(tmp_path):
    import asyncio

    from bot.queue import Delivery, JobQueue
    from bot.triggers import Trigger
    from bot.webhook import GroupCommitter

    class CountingQueue(JobQueue):
        def __init__(self, path):
            super().__init__(path)
            self.batches: list[int] = []

        def accept_batch(self, deliveries):
            self.batches.append(len(deliveries))
            return super().accept_batch(deliveries)

    queue = CountingQueue(tmp_path / "q.sqlite")
    committer = GroupCommitter(queue)

    def trig(n):
        return Trigger(kind="solve", repo="a/b", number=n, via="label", requested_by="m")

    async def burst():
        items = [Delivery(f"d{n}", "issues", trig(n)) for n in range(60)]
        items.append(Delivery("d0", "issues", trig(0)))  # a replay inside the burst
        return await asyncio.gather(*(committer.submit(d) for d in items))

    results = asyncio.run(burst())
    assert [r.status for r in results] == ["queued"] * 60 + ["duplicate"]
    assert sum(queue.batches) == 61 and len(queue.batches) < 61
    assert queue.counts()["queued"] == 60
