"""The fake GitHub's REST endpoints (a mixin of FakeGitHub; see server.py)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from tests.bot.fake_github import shapes
from tests.bot.fake_github.state import ApiError, IssueState, PullState, RepoState


class RestApi:
    """Route handlers; each returns (status, JSON body) or raises ApiError."""

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
