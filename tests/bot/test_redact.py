"""Secrets never reach the logs: the token, the webhook secret, and their encoded forms."""

from __future__ import annotations

import base64
import io
import logging

import pytest

from bot.redact import MASK, RedactingFilter, Redactor, install_log_redaction

TOKEN = "ghs_" + "A1b2C3d4" * 5
SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def captured():
    redactor = Redactor([TOKEN, SECRET])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_token_in_message_and_arguments_is_masked(captured):
    logger, stream = captured
    logger.info("token is " + TOKEN)
    logger.warning("header %s and secret %r", f"Authorization: token {TOKEN}", SECRET)
    out = stream.getvalue()
    assert TOKEN not in out and SECRET not in out
    assert out.count(MASK) == 3


def test_basic_auth_form_of_the_token_is_masked(captured):
    logger, stream = captured
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    logger.error("git said: Authorization: Basic %s", basic)
    assert basic not in stream.getvalue()


def test_token_inside_an_exception_and_its_traceback_is_masked(captured):
    logger, stream = captured
    try:
        raise RuntimeError(f"push to https://x-access-token:{TOKEN}@github.com failed")
    except RuntimeError:
        logger.exception("push failed")
    out = stream.getvalue()
    assert "RuntimeError" in out and "Traceback" in out
    assert TOKEN not in out


def test_records_from_child_loggers_are_masked_after_install(capfd):
    redactor = Redactor()
    handler = install_log_redaction(redactor)
    try:
        redactor.add(TOKEN)  # secrets learned later (App tokens) are masked too
        logging.getLogger("bot.worker").warning("using %s", TOKEN)
        logging.getLogger("uvicorn.error").warning("secret %s", SECRET)
        redactor.add(SECRET)
        logging.getLogger("uvicorn.error").warning("secret %s", SECRET)
        err = capfd.readouterr().err
    finally:
        logging.getLogger().removeHandler(handler)
    assert TOKEN not in err
    assert err.count(SECRET) == 1  # only the line logged before it was registered


def test_multiline_private_key_lines_are_masked():
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(["Q" * 64, "R" * 64]) + "\n-----END"
    redactor = Redactor([key])
    assert "Q" * 64 not in redactor("line: " + "Q" * 64)


def test_short_strings_are_not_secrets():
    redactor = Redactor(["abc", None, ""])
    assert not redactor
    assert redactor("abc") == "abc"
