"""`--api-key-env`: with a key set, every route wants it as a bearer token.

The check runs before any route touches the model, so no model is loaded here."""

from __future__ import annotations

from starlette.testclient import TestClient

from agent.serve.app import create_app
from agent.serve.state import ServeState


def _client() -> TestClient:
    state = ServeState(backend=None, served_name="m", api_key="s3cret")  # type: ignore[arg-type]
    return TestClient(create_app(state))


def test_missing_or_wrong_key_is_401_in_openai_shape():
    client = _client()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = client.get("/health", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
        assert "s3cret" not in r.text


def test_right_key_is_let_through():
    assert _client().get("/health", headers={"Authorization": "Bearer s3cret"}).text == "ok"
