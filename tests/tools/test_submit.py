"""submit: ends the run; an empty submission is questioned once."""

from tests.tools.conftest import call
from tools.base import ToolContext


def test_submit_ends_the_run_with_the_message():
    result = call(None, "submit", message="Fixed the sign.")
    assert result.submitted and result.text == "Submitted. Message: Fixed the sign."


def test_submit_without_changes_is_questioned_once():
    ctx = ToolContext(None, tree_changed=lambda: False)  # type: ignore[arg-type]
    first = call(None, "submit", ctx)
    second = call(None, "submit", ctx)
    assert (first.submitted, first.error_kind) == (False, "refused") and second.submitted


def test_submit_after_changes_goes_through_at_once():
    ctx = ToolContext(None, tree_changed=lambda: True)  # type: ignore[arg-type]
    assert call(None, "submit", ctx).submitted
