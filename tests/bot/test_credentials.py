"""Credentials: read once from the environment and removed from it; GitHub App installation
tokens minted with a real RS256 JWT against the fake GitHub, cached, and masked in logs."""

from __future__ import annotations

import pytest

from bot.credentials import (
    AppCredentials,
    CredentialsError,
    StaticToken,
    load_credentials,
    load_webhook_secret,
)
from bot.queue import JobState
from bot.redact import Redactor
from bot.worker import Worker
from tests.bot.conftest import REPO, Deliverer


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_token_is_taken_out_of_the_environment():
    env = {"GITHUB_TOKEN": "ghs_actions_token_value", "PATH": "/bin"}
    redactor = Redactor()
    creds = load_credentials("https://api.github.com", redactor, env)
    assert isinstance(creds, StaticToken) and creds.token(None) == "ghs_actions_token_value"
    assert "GITHUB_TOKEN" not in env
    assert redactor("x ghs_actions_token_value") == "x ***"


def test_engram_token_wins_and_both_are_removed():
    env = {"GITHUB_TOKEN": "ghs_actions_token_value", "ENGRAM_GITHUB_TOKEN": "ghp_personal_value"}
    creds = load_credentials("https://api.github.com", Redactor(), env)
    assert creds.token(None) == "ghp_personal_value" and env == {}


def test_missing_credentials_say_what_to_set():
    with pytest.raises(CredentialsError, match="ENGRAM_GITHUB_TOKEN"):
        load_credentials("https://api.github.com", Redactor(), {})


def test_webhook_secret_is_required_and_not_too_short():
    with pytest.raises(CredentialsError):
        load_webhook_secret(Redactor(), {})
    with pytest.raises(CredentialsError, match="too short"):
        load_webhook_secret(Redactor(), {"ENGRAM_WEBHOOK_SECRET": "short"})
    env = {"ENGRAM_WEBHOOK_SECRET": "a-long-enough-secret"}
    assert load_webhook_secret(Redactor(), env) == b"a-long-enough-secret" and env == {}


def test_app_installation_token_is_minted_cached_and_masked(github, app_key, tmp_path):
    private, public = app_key
    github.enable_app("12345", public)
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    redactor = Redactor()
    env = {"ENGRAM_GITHUB_APP_ID": "12345", "ENGRAM_GITHUB_APP_KEY_FILE": str(key_file)}
    creds = load_credentials(github.api_url, redactor, env)
    assert isinstance(creds, AppCredentials) and env == {}
    token = creds.token(github.installation_id)
    assert token.startswith("ghs_") and token in github.tokens
    assert creds.token(github.installation_id) == token  # cached, not minted again
    assert len(github.calls("POST", r"/access_tokens$")) == 1
    assert redactor(f"using {token}") == "using ***"
    assert private.splitlines()[1] not in redactor(private)


def test_app_token_for_an_unknown_installation_is_refused(github, app_key):
    private, public = app_key
    github.enable_app("12345", public)
    creds = AppCredentials("12345", private, github.api_url)
    with pytest.raises(CredentialsError, match="installation 999"):
        creds.token(999)
    with pytest.raises(CredentialsError, match="installation id"):
        creds.token(None)


def test_bot_works_as_a_github_app(github, app_key, make_ctx, script):
    private, public = app_key
    github.enable_app("12345", public)
    ctx = make_ctx(script)
    ctx.credentials = AppCredentials("12345", private, github.api_url, ctx.redactor)
    github.tokens.discard(github.token)  # only installation tokens work now
    number = github.add_issue(REPO, "bug", "details")
    Deliverer(ctx)("issues", github.labeled_event(REPO, number, "engram", "maintainer"))
    job = Worker(ctx).run_once()
    assert job.state == JobState.DONE, job.error
    assert len(github.repos[REPO].pulls) == 1
    pushes = github.calls("POST", r"/git-receive-pack$")
    assert pushes and all(r.authorization.startswith("Basic ") for r in pushes)
