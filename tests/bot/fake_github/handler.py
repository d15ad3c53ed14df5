"""HTTP front of the fake GitHub: token checks, recording, failure injection, routing
to REST handlers or to `git http-backend`."""

from __future__ import annotations

import base64
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.bot.fake_github.git_http import read_body, serve_git
from tests.bot.fake_github.state import ApiError, Request

if TYPE_CHECKING:
    from tests.bot.fake_github.server import FakeGitHub


class Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _record(self, status: int, body: Any = None) -> None:
        with self.fake.lock:
            self.fake.requests.append(
                Request(
                    self.command,
                    urlsplit(self.path).path,
                    status,
                    self.headers.get("Authorization"),
                    body,
                )
            )

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.end_headers()
        self.wfile.write(data)

    def _token_ok(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer"):
            return value in self.fake.tokens
        if scheme.lower() == "basic":
            user_pass = base64.b64decode(value).decode(errors="replace")
            return user_pass.partition(":")[2] in self.fake.tokens
        return False

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        auth = self.headers.get("Authorization")
        if path.endswith(".git") or ".git/" in path:
            if not self._token_ok(auth):
                read_body(self) if self.command == "POST" else None
                self._record(401)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._record(200)
            serve_git(self, self.fake.git_root, path, parts.query, "x-access-token")
            if path.endswith("/git-receive-pack"):
                for hook in self.fake.after_push:
                    hook()
            return
        if not path.startswith("/api/v3/"):
            self._record(404)
            self._json(404, {"message": "Not Found"})
            return
        api_path = path[len("/api/v3") :]
        raw = read_body(self)
        body = json.loads(raw) if raw else None
        try:
            for i, (method, rx, status, count) in enumerate(self.fake.failures):
                if method == self.command and rx.search(api_path) and count > 0:
                    self.fake.failures[i] = (method, rx, status, count - 1)
                    raise ApiError(status, "injected failure")
            token_route = re.fullmatch(r"/app/installations/(\d+)/access_tokens", api_path)
            if token_route and self.command == "POST":
                status, payload = self.fake.mint_installation_token(auth, int(token_route.group(1)))
            else:
                if not self._token_ok(auth):
                    raise ApiError(401, "Bad credentials")
                with self.fake.lock:
                    status, payload = self.fake.handle_api(
                        self.command, api_path, parse_qs(parts.query), body
                    )
        except ApiError as exc:
            self._record(exc.status, body)
            self._json(exc.status, exc.body)
            return
        self._record(status, body)
        if self.command == "POST" and re.fullmatch(r"/repos/[^/]+/[^/]+/pulls", api_path):
            self.fake.pull_created.set()
            if self.fake.pull_create_hold_s:
                # The PR exists, but its creator does not hear so for a while: the window
                # in which a crashed worker leaves a PR it does not know about.
                time.sleep(self.fake.pull_create_hold_s)
        self._json(status, payload)

    do_GET = do_POST = do_DELETE = do_PATCH = _dispatch
