"""Fixtures for the bot: a local fake GitHub (REST + real git over HTTP), a bot context
wired to it, and signed deliveries through the real webhook app."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.config import BotSection
from agent.home import Home
from agent.types import TestOutcome, Verification
from bot.context import BotContext, bot_dir, queue_path
from bot.credentials import StaticToken
from bot.fake_runner import RunScript, ScriptedRunner
from bot.queue import JobQueue
from bot.redact import Redactor
from bot.webhook import create_app, sign
from tests.bot.fake_github.server import FakeGitHub
from tests.conftest import make_git_repo

REPO = "acme/widgets"
SECRET = b"webhook-secret-0123456789abcdef"
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def source_repo(tmp_path) -> Path:
    return make_git_repo(
        tmp_path / "src",
        {
            "widgets/__init__.py": "",
            "widgets/core.py": BUGGY,
            "tests/test_core.py": "from widgets.core import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        },
    )


@pytest.fixture
def github(tmp_path, source_repo) -> Iterator[FakeGitHub]:
    with FakeGitHub(tmp_path / "github") as fake:
        fake.add_repo(REPO, source_repo)
        fake.repos[REPO].permissions.update({"maintainer": "admin", "outsider": "read"})
        yield fake


def passing_verification() -> Verification:
    return Verification(
        command="python -m pytest -q",
        passed=True,
        exit_code=0,
        summary="1 passed",
        outcomes=[TestOutcome(test_id="tests/test_core.py::test_add", passed=True)],
        duration_s=0.4,
    )


@pytest.fixture
def script() -> RunScript:
    return RunScript(
        edits={"widgets/core.py": FIXED},
        summary="`add` subtracted; it now adds.",
        verification=passing_verification(),
    )


@pytest.fixture
def make_ctx(github, isolated_home) -> Callable[..., BotContext]:
    def build(script: RunScript | None = None, **settings) -> BotContext:
        home = Home(isolated_home)
        home.ensure(bot_dir(home))
        runner = ScriptedRunner(script or RunScript(), home)
        bot = BotSection(**settings)
        return BotContext(
            settings=bot,
            home=home,
            queue=JobQueue(queue_path(home), bot.max_attempts),
            credentials=StaticToken(github.token),
            api_url=github.api_url,
            redactor=Redactor([github.token, SECRET.decode()]),
            runner_factory=lambda: runner,
        )

    return build


@pytest.fixture
def ctx(make_ctx, script) -> BotContext:
    return make_ctx(script)


class Deliverer:
    """Posts signed deliveries to the real webhook app (in process)."""

    def __init__(self, ctx: BotContext):
        from starlette.testclient import TestClient

        self.client = TestClient(create_app(ctx.queue, SECRET, ctx.settings))

    def __call__(self, event: str, payload: dict, delivery: str | None = None):
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(SECRET, body),
            "Content-Type": "application/json",
        }
        return self.client.post("/webhook", content=body, headers=headers)


@pytest.fixture
def deliver(ctx) -> Deliverer:
    return Deliverer(ctx)
