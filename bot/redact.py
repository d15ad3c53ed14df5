"""Keep secrets out of logs and out of everything the bot writes to GitHub.

A `Redactor` knows the secrets of this process (the GitHub token, the webhook secret,
an App's private key) and every form in which they could leak: raw, and base64 of the
`x-access-token:<token>` pair that goes into git's Authorization header. `RedactingFilter`
applies it to log records — the formatted message, the exception text and the stack —
so a secret inside a format argument or an exception's message is caught too.

Install the filter on *handlers* (`install_log_redaction`): a filter on a logger does
not see records propagated from its children.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterable

MASK = "***"
#: Shorter strings are not treated as secrets: masking "a" everywhere would destroy logs.
MIN_SECRET_LEN = 6


def secret_forms(secret: str) -> set[str]:
    """The strings under which `secret` could appear in output."""
    forms = {secret}
    for user in ("x-access-token", "x-oauth-basic", "git"):
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    # Multi-line secrets (PEM keys): also each long line on its own.
    forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 16)
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()):
        self._lock = threading.Lock()
        self._forms: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LEN:
            return
        with self._lock:
            forms = set(self._forms) | secret_forms(secret)
            # Longest first, so a secret containing another is masked whole.
            self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def __bool__(self) -> bool:
        return bool(self._forms)


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not drop the record
            message = str(record.msg)
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, and drop exc_info so the handler's
            # formatter does not render the unredacted one again.
            record.exc_text = self.redactor(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


def install_log_redaction(redactor: Redactor, level: int = logging.INFO) -> logging.Handler:
    """Route all logging through one stderr handler that redacts. Returns the handler."""
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that bring their own handlers (uvicorn) are sent through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "githubkit"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    return handler
