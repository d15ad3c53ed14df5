"""A local HTTP server that speaks the part of GitHub the bot uses.

REST under `/api/v3` (GitHub Enterprise's layout, so the bot's configurable API URL is
exercised): repositories, collaborator permission, issues, issue comments, labels,
pulls list/create/get, App installation tokens. Git smart HTTP at `/<owner>/<repo>.git`,
served from real bare repositories by `git http-backend`, so clones and pushes are real
and need the token (HTTP Basic, as GitHub takes it). Every request is recorded.

Webhook payloads are built by the same code (`labeled_event`, `comment_event`,
`merge_pull`, `close_pull`), from the server's state, as GitHub would send them.
It runs in a thread of the test process; worker subprocesses reach it on loopback.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.bot.fake_github import shapes
from tests.bot.fake_github.git_http import read_body, serve_git

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "human",
    "GIT_AUTHOR_EMAIL": "h@example.invalid",
    "GIT_COMMITTER_NAME": "human",
    "GIT_COMMITTER_EMAIL": "h@example.invalid",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(args: list[str], cwd: Path | None = None, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, input=input, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


@dataclass
class Request:
    method: str
    path: str
    status: int
    authorization: str | None
    body: Any = None


@dataclass
class IssueState:
    number: int
    ident: int
    title: str
    body: str | None
    author: str
    association: str
    labels: list[str]
    state: str = "open"
    comments: list[dict] = field(default_factory=list)


@dataclass
class PullState:
    number: int
    ident: int
    title: str
    body: str | None
    author: str
    head_ref: str
    base_ref: str
    draft: bool
    state: str = "open"
    merged: bool = False
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_head_sha: str | None = None


@dataclass
class RepoState:
    full_name: str
    ident: int
    default_branch: str
    bare: Path
    issues: dict[int, IssueState] = field(default_factory=dict)
    pulls: dict[int, PullState] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    drafts_supported: bool = True


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        self.status = status
        self.body = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
            **extra,
        }


class FakeGitHub:
    def __init__(
        self, root: Path, token: str = "ghp_" + "T0k3n" * 8, bot_login: str = "engram-bot[bot]"
    ):
        self.root = root
        self.git_root = root / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.bot_login = bot_login
        self.tokens = {token}
        self.app_public_key: str | None = None
        self.app_id: str | None = None
        self.installation_id = 4242
        self.repos: dict[str, RepoState] = {}
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self.pull_create_hold_s = 0.0
        self.pull_created = threading.Event()
        self.after_push: list[Any] = []  # callables run after each git push
        self.failures: list[
            tuple[str, re.Pattern[str], int, int]
        ] = []  # method, path, status, count
        self._numbers = itertools.count(1)
        self._ids = itertools.count(100_000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGitHub:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def web_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.web_url}/api/v3"

    # ------------------------------------------------------------------ set-up

    def add_repo(self, full_name: str, source: Path, default_branch: str = "main") -> RepoState:
        bare = self.git_root / f"{full_name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        git(["clone", "--bare", "--quiet", str(source), str(bare)])
        git(["symbolic-ref", "HEAD", f"refs/heads/{default_branch}"], cwd=bare)
        state = RepoState(full_name, next(self._ids), default_branch, bare)
        self.repos[full_name] = state
        return state

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str,
        author: str = "reporter",
        association: str = "NONE",
        labels: list[str] | None = None,
    ) -> int:
        with self.lock:
            number = next(self._numbers)
            self.repos[full_name].issues[number] = IssueState(
                number, next(self._ids), title, body, author, association, list(labels or [])
            )
            return number

    def fail_next(self, method: str, path_regex: str, status: int, count: int = 1) -> None:
        self.failures.append((method, re.compile(path_regex), status, count))

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        bare = self.repos[full_name].bare
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
            cwd=bare,
            env=GIT_ENV,
            capture_output=True,
        )
        return proc.stdout.decode().strip() or None

    def calls(self, method: str, pattern: str) -> list[Request]:
        rx = re.compile(pattern)
        return [r for r in self.requests if r.method == method and rx.search(r.path)]

    # ------------------------------------------------------------------ objects

    def _user(self, login: str) -> dict:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return shapes.user(self.api_url, self.web_url, login, type_=kind)

    def _repo(self, state: RepoState, full: bool = False) -> dict:
        owner = self._user(state.full_name.split("/")[0])
        return shapes.repository(
            self.api_url,
            self.web_url,
            owner,
            state.full_name,
            state.ident,
            state.default_branch,
            full=full,
        )

    def _label(self, state: RepoState, name: str) -> dict:
        return shapes.label(self.api_url, state.full_name, name, abs(hash(name)) % 100_000)

    def _issue(self, state: RepoState, issue: IssueState) -> dict:
        return shapes.issue(
            self.api_url,
            self.web_url,
            state.full_name,
            number=issue.number,
            ident=issue.ident,
            title=issue.title,
            body=issue.body,
            author=self._user(issue.author),
            association=issue.association,
            labels=[self._label(state, n) for n in issue.labels],
            state=issue.state,
            comments=len(issue.comments),
        )

    def _pull(self, state: RepoState, pull: PullState, full: bool = True) -> dict:
        head_sha = (
            pull.closed_head_sha or self.branch_sha(state.full_name, pull.head_ref) or "0" * 40
        )
        base_sha = self.branch_sha(state.full_name, pull.base_ref) or "0" * 40
        return shapes.pull_request(
            self.api_url,
            self.web_url,
            self._repo(state),
            number=pull.number,
            ident=pull.ident,
            title=pull.title,
            body=pull.body,
            author=self._user(pull.author),
            head_ref=pull.head_ref,
            head_sha=head_sha,
            base_ref=pull.base_ref,
            base_sha=base_sha,
            draft=pull.draft,
            state=pull.state,
            merged=pull.merged,
            merged_by=self._user(pull.merged_by) if pull.merged_by else None,
            merge_commit_sha=pull.merge_commit_sha,
            full=full,
        )

    # ------------------------------------------------------------------ webhook payloads

    def _event_base(self, state: RepoState, sender: str) -> dict:
        return {
            "repository": self._repo(state),
            "sender": self._user(sender),
            "installation": shapes.installation(self.installation_id),
        }

    def labeled_event(self, full_name: str, number: int, label: str, sender: str) -> dict:
        with self.lock:
            state = self.repos[full_name]
            issue = state.issues[number]
            if label not in issue.labels:
                issue.labels.append(label)
            return {
                "action": "labeled",
                "issue": self._issue(state, issue),
                "label": self._label(state, label),
                **self._event_base(state, sender),
            }

    def comment_event(
        self, full_name: str, number: int, body: str, author: str, association: str
    ) -> dict:
        with self.lock:
            state = self.repos[full_name]
            issue = state.issues[number]
            comment = shapes.comment(
                self.api_url,
                self.web_url,
                full_name,
                issue_number=number,
                ident=next(self._ids),
                body=body,
                author=self._user(author),
                association=association,
            )
            issue.comments.append(comment)
            return {
                "action": "created",
                "issue": self._issue(state, issue),
                "comment": comment,
                **self._event_base(state, author),
            }

    def open_pull(self, full_name: str, head_ref: str, author: str, draft: bool = False) -> int:
        """Someone (not the bot) opens a PR from `head_ref`."""
        with self.lock:
            state = self.repos[full_name]
            number = next(self._numbers)
            state.pulls[number] = PullState(
                number,
                next(self._ids),
                "by hand",
                None,
                author,
                head_ref,
                state.default_branch,
                draft,
            )
            return number

    def merge_pull(self, full_name: str, number: int, merged_by: str = "maintainer") -> dict:
        with self.lock:
            state = self.repos[full_name]
            pull = state.pulls[number]
            head = self.branch_sha(full_name, pull.head_ref)
            base = self.branch_sha(full_name, pull.base_ref)
            assert head and base
            tree = git(["rev-parse", f"{head}^{{tree}}"], cwd=state.bare)
            merge = git(
                ["commit-tree", tree, "-p", base, "-p", head],
                cwd=state.bare,
                input=f"Merge pull request #{number}\n".encode(),
            )
            git(["update-ref", f"refs/heads/{pull.base_ref}", merge], cwd=state.bare)
            pull.state, pull.merged, pull.merged_by = "closed", True, merged_by
            pull.merge_commit_sha, pull.closed_head_sha = merge, head
            return {
                "action": "closed",
                "number": number,
                "pull_request": self._pull(state, pull),
                **self._event_base(state, merged_by),
            }

    def close_pull(self, full_name: str, number: int, closed_by: str = "maintainer") -> dict:
        with self.lock:
            state = self.repos[full_name]
            pull = state.pulls[number]
            pull.closed_head_sha = self.branch_sha(full_name, pull.head_ref)
            pull.state = "closed"
            return {
                "action": "closed",
                "number": number,
                "pull_request": self._pull(state, pull),
                **self._event_base(state, closed_by),
            }

    def push_human_commit(self, full_name: str, branch: str, path: str, text: str) -> str:
        """A person adds a commit to `branch` (e.g. fixes the bot's PR before merging)."""
        state = self.repos[full_name]
        work = self.root / f"human-{secrets.token_hex(4)}"
        git(["clone", "--quiet", "--branch", branch, str(state.bare), str(work)])
        (work / path).write_text(text)
        git(["add", "-A"], cwd=work)
        git(["commit", "--quiet", "-m", "human fix"], cwd=work)
        git(["push", "--quiet", "origin", branch], cwd=work)
        return git(["rev-parse", "HEAD"], cwd=work)

    # ------------------------------------------------------------------ REST handlers

    def handle_api(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/app/installations/(\d+)/access_tokens", self._access_token),
            ("GET", r"/repos/([^/]+/[^/]+)", self._get_repo),
            ("GET", r"/repos/([^/]+/[^/]+)/collaborators/([^/]+)/permission", self._permission),
            ("GET", r"/repos/([^/]+/[^/]+)/issues/(\d+)", self._get_issue),
            ("GET", r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", self._create_comment),
            ("POST", r"/repos/([^/]+/[^/]+)/issues/(\d+)/labels", self._add_labels),
            ("DELETE", r"/repos/([^/]+/[^/]+)/issues/(\d+)/labels/([^/]+)", self._remove_label),
            ("GET", r"/repos/([^/]+/[^/]+)/pulls", self._list_pulls),
            ("POST", r"/repos/([^/]+/[^/]+)/pulls", self._create_pull),
            ("GET", r"/repos/([^/]+/[^/]+)/pulls/(\d+)", self._get_pull),
        ]
        for m, pattern, fn in routes:
            match = re.fullmatch(pattern, path)
            if m == method and match:
                return fn(*[unquote(g) for g in match.groups()], query=query, body=body)
        raise ApiError(404, "Not Found")

    def _state(self, full_name: str) -> RepoState:
        state = self.repos.get(full_name)
        if state is None:
            raise ApiError(404, "Not Found")
        return state

    def _access_token(self, installation: str, **_: Any) -> tuple[int, Any]:
        raise AssertionError("handled in the request handler")  # JWT auth, not token auth

    def _get_repo(self, full_name: str, **_: Any) -> tuple[int, Any]:
        return 200, self._repo(self._state(full_name), full=True)

    def _permission(self, full_name: str, login: str, **_: Any) -> tuple[int, Any]:
        state = self._state(full_name)
        permission = state.permissions.get(login, "read")
        role = {"admin": "admin", "write": "write", "read": "read"}.get(permission, "read")
        return 200, {
            "permission": permission,
            "role_name": role,
            "user": {
                **self._user(login),
                "permissions": {
                    "admin": permission == "admin",
                    "maintain": False,
                    "push": permission in ("admin", "write"),
                    "triage": True,
                    "pull": True,
                },
                "role_name": role,
            },
        }

    def _issue_state(self, full_name: str, number: str) -> tuple[RepoState, IssueState]:
        state = self._state(full_name)
        issue = state.issues.get(int(number))
        if issue is None:
            raise ApiError(404, "Not Found")
        return state, issue

    def _get_issue(self, full_name: str, number: str, **_: Any) -> tuple[int, Any]:
        state, issue = self._issue_state(full_name, number)
        return 200, self._issue(state, issue)

    def _list_comments(self, full_name: str, number: str, query: dict, **_: Any) -> tuple[int, Any]:
        _, issue = self._issue_state(full_name, number)
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        return 200, issue.comments[(page - 1) * per_page : page * per_page]

    def _create_comment(self, full_name: str, number: str, body: Any, **_: Any) -> tuple[int, Any]:
        _, issue = self._issue_state(full_name, number)
        if not isinstance(body, dict) or not body.get("body"):
            raise ApiError(422, "Validation Failed")
        comment = shapes.comment(
            self.api_url,
            self.web_url,
            full_name,
            issue_number=issue.number,
            ident=next(self._ids),
            body=body["body"],
            author=self._user(self.bot_login),
            association="NONE",
        )
        issue.comments.append(comment)
        return 201, comment

    def _add_labels(self, full_name: str, number: str, body: Any, **_: Any) -> tuple[int, Any]:
        state, issue = self._issue_state(full_name, number)
        for name in body.get("labels", []):
            if name not in issue.labels:
                issue.labels.append(name)
        return 200, [self._label(state, n) for n in issue.labels]

    def _remove_label(self, full_name: str, number: str, name: str, **_: Any) -> tuple[int, Any]:
        state, issue = self._issue_state(full_name, number)
        if name not in issue.labels:
            raise ApiError(404, "Label does not exist")
        issue.labels.remove(name)
        return 200, [self._label(state, n) for n in issue.labels]

    def _list_pulls(self, full_name: str, query: dict, **_: Any) -> tuple[int, Any]:
        state = self._state(full_name)
        want = query.get("state", ["open"])[0]
        head = query.get("head", [None])[0]
        pulls = sorted(state.pulls.values(), key=lambda p: -p.number)
        out = []
        for pull in pulls:
            if want != "all" and pull.state != want:
                continue
            if head and f"{full_name.split('/')[0]}:{pull.head_ref}" != head:
                continue
            out.append(self._pull(state, pull, full=False))
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        return 200, out[(page - 1) * per_page : page * per_page]

    def _create_pull(self, full_name: str, body: Any, **_: Any) -> tuple[int, Any]:
        state = self._state(full_name)
        head, base = body.get("head", ""), body.get("base", "")
        head_branch = head.split(":", 1)[-1]
        if self.branch_sha(full_name, head_branch) is None:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        if self.branch_sha(full_name, base) is None:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "base", "code": "invalid"}],
            )
        if body.get("draft") and not state.drafts_supported:
            raise ApiError(422, "Draft pull requests are not supported in this repository.")
        for pull in state.pulls.values():
            if pull.state == "open" and pull.head_ref == head_branch and pull.base_ref == base:
                raise ApiError(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {head}.",
                        }
                    ],
                )
        number = next(self._numbers)
        pull = PullState(
            number,
            next(self._ids),
            body.get("title", ""),
            body.get("body"),
            self.bot_login,
            head_branch,
            base,
            bool(body.get("draft")),
        )
        state.pulls[number] = pull
        return 201, self._pull(state, pull)

    def _get_pull(self, full_name: str, number: str, **_: Any) -> tuple[int, Any]:
        state = self._state(full_name)
        pull = state.pulls.get(int(number))
        if pull is None:
            raise ApiError(404, "Not Found")
        return 200, self._pull(state, pull)

    # ------------------------------------------------------------------ App tokens

    def enable_app(self, app_id: str, public_key_pem: str) -> None:
        self.app_id, self.app_public_key = app_id, public_key_pem

    def mint_installation_token(
        self, authorization: str | None, installation: int
    ) -> tuple[int, Any]:
        import jwt

        if not authorization or not authorization.startswith("Bearer ") or not self.app_public_key:
            raise ApiError(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(authorization[7:], self.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError as exc:
            raise ApiError(401, f"A JSON web token could not be decoded: {exc}") from exc
        if str(claims.get("iss")) != self.app_id or installation != self.installation_id:
            raise ApiError(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        self.tokens.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {
            "token": token,
            "expires_at": expires,
            "permissions": {
                "issues": "write",
                "contents": "write",
                "pull_requests": "write",
                "metadata": "read",
            },
            "repository_selection": "all",
        }


class _Handler(BaseHTTPRequestHandler):
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
