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

import itertools
import re
import secrets
import subprocess
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.bot.fake_github import shapes
from tests.bot.fake_github.handler import Handler
from tests.bot.fake_github.rest import RestApi
from tests.bot.fake_github.state import GIT_ENV, IssueState, PullState, RepoState, Request, git


class FakeGitHub(RestApi):
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
        handler = type("BoundHandler", (Handler,), {"fake": self})
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
