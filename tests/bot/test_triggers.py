"""Which deliveries start work (payloads from the fake GitHub, shaped as GitHub sends them)."""

from __future__ import annotations

import copy

import pytest

from agent.config import BotSection
from bot.triggers import Ignored, PayloadError, Trigger, TriggerKind, decide, parse_command
from tests.bot.conftest import REPO

SETTINGS = BotSection()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/engram", ""),
        ("  /engram  \n", ""),
        ("/engram use the stdlib only", "use the stdlib only"),
        ("/ENGRAM", ""),
        ("/engram\nfirst line\nsecond", "first line\nsecond"),
        ("/engramx", None),
        ("> /engram", None),
        ("please /engram this", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_command(body, expected):
    assert parse_command(body, "/engram") == expected


@pytest.fixture
def issue(github) -> int:
    return github.add_issue(REPO, "bug", "details")


def test_label_from_a_collaborator_needs_a_permission_check(github, issue):
    trigger = decide("issues", github.labeled_event(REPO, issue, "engram", "maintainer"), SETTINGS)
    assert isinstance(trigger, Trigger)
    assert trigger.kind == TriggerKind.SOLVE and trigger.via == "label"
    assert trigger.needs_permission_check
    assert trigger.installation_id == github.installation_id
    assert trigger.clone_url == f"{github.web_url}/{REPO}.git"


def test_label_from_an_allowed_user_needs_no_check(github, issue):
    settings = BotSection(allow_users=["Maintainer"])
    trigger = decide("issues", github.labeled_event(REPO, issue, "engram", "maintainer"), settings)
    assert isinstance(trigger, Trigger) and not trigger.needs_permission_check


def test_other_labels_and_actions_are_ignored(github, issue):
    other = github.labeled_event(REPO, issue, "bug", "maintainer")
    assert isinstance(decide("issues", other, SETTINGS), Ignored)
    opened = {**github.labeled_event(REPO, issue, "engram", "maintainer"), "action": "opened"}
    assert isinstance(decide("issues", opened, SETTINGS), Ignored)


def test_configured_label_is_used(github, issue):
    payload = github.labeled_event(REPO, issue, "ai-fix", "maintainer")
    assert isinstance(decide("issues", payload, BotSection(label="ai-fix")), Trigger)


def test_label_from_a_bot_is_ignored(github, issue):
    payload = github.labeled_event(REPO, issue, "engram", "renovate[bot]")
    assert decide("issues", payload, SETTINGS).reason.endswith("is a bot")


def test_closed_issue_is_ignored(github, issue):
    payload = github.labeled_event(REPO, issue, "engram", "maintainer")
    payload["issue"]["state"] = "closed"
    assert isinstance(decide("issues", payload, SETTINGS), Ignored)


@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_command_from_trusted_association(github, issue, association):
    payload = github.comment_event(REPO, issue, "/engram try harder", "someone", association)
    trigger = decide("issue_comment", payload, SETTINGS)
    assert isinstance(trigger, Trigger)
    assert trigger.instruction == "try harder" and not trigger.needs_permission_check
    assert trigger.association == association


@pytest.mark.parametrize("association", ["NONE", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR"])
def test_command_from_untrusted_association_is_ignored(github, issue, association):
    payload = github.comment_event(REPO, issue, "/engram", "someone", association)
    assert "not trusted" in decide("issue_comment", payload, SETTINGS).reason


def test_allow_users_overrides_association(github, issue):
    payload = github.comment_event(REPO, issue, "/engram", "friend", "CONTRIBUTOR")
    assert isinstance(decide("issue_comment", payload, BotSection(allow_users=["friend"])), Trigger)


def test_trusted_associations_are_configurable(github, issue):
    payload = github.comment_event(REPO, issue, "/engram", "someone", "MEMBER")
    assert isinstance(
        decide("issue_comment", payload, BotSection(trusted_associations=["OWNER"])), Ignored
    )


def test_command_on_a_pull_request_is_ignored(github, issue):
    payload = github.comment_event(REPO, issue, "/engram", "maintainer", "OWNER")
    payload["issue"]["pull_request"] = {
        "url": "x",
        "html_url": "y",
        "diff_url": "z",
        "patch_url": "w",
    }
    assert "pull requests" in decide("issue_comment", payload, SETTINGS).reason


def test_edited_comment_is_ignored(github, issue):
    payload = github.comment_event(REPO, issue, "/engram", "maintainer", "OWNER")
    payload["action"] = "edited"
    assert isinstance(decide("issue_comment", payload, SETTINGS), Ignored)


def _pull_payload(github, issue, ref: str = "engram/issue-1-abcdef") -> dict:
    from tests.bot.fake_github.state import PullState, git

    state = github.repos[REPO]
    git(["branch", ref, "main"], cwd=state.bare)
    state.pulls[99] = PullState(99, 5, "t", "b", github.bot_login, ref, "main", True)
    return github.merge_pull(REPO, 99)


def test_merged_engram_pr_is_a_pr_closed_trigger(github, issue):
    trigger = decide("pull_request", _pull_payload(github, issue), SETTINGS)
    assert isinstance(trigger, Trigger)
    assert trigger.kind == TriggerKind.PR_CLOSED and trigger.merged and trigger.number == 99


def test_other_prs_are_ignored(github, issue):
    assert isinstance(
        decide("pull_request", _pull_payload(github, issue, "feature/x"), SETTINGS), Ignored
    )


def test_pr_from_a_fork_is_ignored(github, issue):
    payload = copy.deepcopy(_pull_payload(github, issue))
    payload["pull_request"]["head"]["repo"]["full_name"] = "mallory/widgets"
    assert "fork" in decide("pull_request", payload, SETTINGS).reason


def test_unknown_event_is_ignored():
    assert isinstance(decide("push", {"ref": "x"}, SETTINGS), Ignored)


def test_malformed_payload_raises():
    with pytest.raises(PayloadError):
        decide("issues", {"action": "labeled"}, SETTINGS)
