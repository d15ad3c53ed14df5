"""Where the bot's secrets come from, and how long they live.

- A token (`ENGRAM_GITHUB_TOKEN`, or `GITHUB_TOKEN` in Actions): used as is.
- A GitHub App (`ENGRAM_GITHUB_APP_ID` + `ENGRAM_GITHUB_APP_KEY_FILE`): a JWT signed with
  the App's private key buys a one-hour installation token per installation (the
  installation id comes with each webhook delivery); tokens are cached and renewed
  ten minutes before they expire.
- The webhook secret: `ENGRAM_WEBHOOK_SECRET`.

Secrets are read from the environment once and then removed from it, so no process
the bot starts later (git, the agent, a sandbox) inherits them. They go only to
git's per-command configuration (`bot.remote`) and to GitHub's API.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bot.redact import Redactor

TOKEN_VARS = ("ENGRAM_GITHUB_TOKEN", "GITHUB_TOKEN")
APP_ID_VAR = "ENGRAM_GITHUB_APP_ID"
APP_KEY_VAR = "ENGRAM_GITHUB_APP_KEY_FILE"
WEBHOOK_SECRET_VAR = "ENGRAM_WEBHOOK_SECRET"
RENEW_BEFORE_S = 600.0


class CredentialsError(RuntimeError):
    user_facing = True


class Credentials(Protocol):
    def token(self, installation_id: int | None) -> str: ...


@dataclass
class StaticToken:
    value: str

    def token(self, installation_id: int | None) -> str:
        return self.value


@dataclass
class AppCredentials:
    """GitHub App: installation tokens minted on demand and cached until near expiry."""

    app_id: str
    private_key: str
    api_url: str
    redactor: Redactor | None = None
    _cache: dict[int, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, installation_id: int | None) -> str:
        if installation_id is None:
            raise CredentialsError(
                "a GitHub App needs the installation id, but this delivery has none. Is the "
                "webhook configured on the App (not on the repository)?"
            )
        with self._lock:
            cached = self._cache.get(installation_id)
            if cached and cached[1] - time.time() > RENEW_BEFORE_S:
                return cached[0]
            value, expires = self._mint(installation_id)
            if self.redactor is not None:
                self.redactor.add(value)
            self._cache[installation_id] = (value, expires)
            return value

    def _mint(self, installation_id: int) -> tuple[str, float]:
        from githubkit import AppAuthStrategy, GitHub
        from githubkit.exception import GitHubException

        gh = GitHub(
            AppAuthStrategy(self.app_id, self.private_key),
            base_url=self.api_url,
            user_agent="engram-bot",
            http_cache=False,
            trust_env=False,
        )
        try:
            data = gh.rest.apps.create_installation_access_token(installation_id).json()
        except GitHubException as exc:
            raise CredentialsError(
                f"could not get an installation token for installation {installation_id} "
                f"({type(exc).__name__}). Check the App id, its private key and that the App "
                "is installed on the repository."
            ) from exc
        expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00")).timestamp()
        return data["token"], expires


def _pop(environ: MutableMapping[str, str], name: str) -> str | None:
    value = environ.pop(name, None)
    return value.strip() if value and value.strip() else None


def load_credentials(
    api_url: str, redactor: Redactor, environ: MutableMapping[str, str] | None = None
) -> Credentials:
    """Read (and remove) the GitHub credentials from the environment."""
    env = os.environ if environ is None else environ
    tokens = [_pop(env, var) for var in TOKEN_VARS]
    token = next((t for t in tokens if t), None)
    app_id = _pop(env, APP_ID_VAR)
    key_file = _pop(env, APP_KEY_VAR)
    if app_id and key_file:
        try:
            key = Path(key_file).expanduser().read_text()
        except OSError as exc:
            raise CredentialsError(
                f"{APP_KEY_VAR}={key_file}: cannot read the App's private key ({exc.strerror})."
            ) from exc
        redactor.add(key)
        return AppCredentials(app_id, key, api_url, redactor)
    if token:
        redactor.add(token)
        return StaticToken(token)
    raise CredentialsError(
        "no GitHub credentials: set ENGRAM_GITHUB_TOKEN (a token with contents, issues and "
        f"pull-requests write access), or {APP_ID_VAR} and {APP_KEY_VAR} for a GitHub App. "
        "In GitHub Actions, pass `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` in `env`."
    )


def load_webhook_secret(
    redactor: Redactor, environ: MutableMapping[str, str] | None = None
) -> bytes:
    env = os.environ if environ is None else environ
    secret = _pop(env, WEBHOOK_SECRET_VAR)
    if not secret:
        raise CredentialsError(
            f"{WEBHOOK_SECRET_VAR} is not set. Generate one (`openssl rand -hex 32`), set it "
            "here and as the webhook secret in the GitHub App (or repository webhook) settings."
        )
    if len(secret) < 16:
        raise CredentialsError(f"{WEBHOOK_SECRET_VAR} is too short: use at least 16 characters.")
    redactor.add(secret)
    return secret.encode()
