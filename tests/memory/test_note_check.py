"""Parsing, shape checks, grounding and dedupe of model-written notes (no model)."""

from __future__ import annotations

import pytest

from memory.note import Note
from memory.note_check import Deduper, check_claims, normalise, parse_notes, shape_problem
from tests.memory.knowledge_fixtures import ledger_index


@pytest.fixture(scope="module")
def grounder():
    from tools.grounding import Grounder

    return Grounder(ledger_index())


def test_parse_accepts_decorated_lines():
    reply = (
        "Here are the notes:\n"
        "1. [location] `Money` is defined in `src/ledger/money.py`.\n"
        "- **[api]** `Money.parse` returns a `Money`.\n"
        "* testing: run `pytest tests/test_money.py` for money.\n"
        "(pitfall) - amounts are rounded half up.\n"
        "```\n"
    )
    claims, bad = parse_notes(reply)
    assert [k for k, _ in claims] == ["location", "api", "testing", "pitfall"]
    assert claims[0][1] == "`Money` is defined in `src/ledger/money.py`."
    assert claims[1][1] == "`Money.parse` returns a `Money`."
    assert bad == 0


def test_parse_counts_lines_without_a_kind():
    claims, bad = parse_notes("[location] `Money` lives in `src/ledger/money.py`.\nsome chatter")
    assert len(claims) == 1 and bad == 1


def test_parse_rejects_unknown_kinds():
    claims, bad = parse_notes("[trivia] ledger is nice\n[opinion] it is fine")
    assert claims == [] and bad == 2


@pytest.mark.parametrize(
    "text, reason",
    [
        ("short", "too short"),
        ("word " * 80, "too long"),
        ("`src/ledger/config.py`", "not a sentence"),
        ("read_config_file(path: str | Path) -> dict[str, Any]", "not a sentence"),
        ("def totals(self) -> dict[str, Decimal]:", "not a sentence"),
        ("The `read_config_file` function is not defined in `src/ledger/config.py`.", "negative"),
    ],
)
def test_shape_problems(text, reason):
    assert (shape_problem(text) or "").startswith(reason)


def test_a_plain_claim_has_the_right_shape():
    assert shape_problem("`days_in_month` is defined in `src/ledger/dates.py`.") is None


def test_normalise_keeps_paths_and_drops_markup():
    assert normalise("`Money` is in `src/ledger/money.py`.") == "money is in src/ledger/money.py"


def _check(claims, grounder, per_kind=4, deduper=None):
    return check_claims(claims, grounder, deduper or Deduper(), per_kind=per_kind, source="repo")


def test_grounded_claim_is_kept_with_its_names(grounder):
    kept, dropped = _check([("location", "`Money` is defined in `src/ledger/money.py`.")], grounder)
    assert not dropped
    assert "src/ledger/money.py" in kept[0].names and "Money" in kept[0].names
    assert kept[0].source == "repo"


@pytest.mark.parametrize(
    "text, missing",
    [
        ("`Period` is defined in `src/ledger/period.py`.", "src/ledger/period.py"),
        ("Call `Money.convert_to` to change currency.", "Money.convert_to"),
        ("`parse_amount` is defined in `src/ledger/dates.py`.", "parse_amount"),
    ],
)
def test_claim_naming_what_the_repo_lacks_is_dropped(grounder, text, missing):
    kept, dropped = _check([("location", text)], grounder)
    assert kept == []
    assert dropped[0][1].startswith("ungrounded") and missing in dropped[0][1]


def test_claim_naming_nothing_is_dropped_except_for_testing(grounder):
    kept, dropped = _check(
        [("convention", "Use descriptive names for all the things."),
         ("testing", "Run the whole suite with pytest before you finish.")], grounder,
    )  # fmt: skip
    assert [n.kind for n in kept] == ["testing"]
    assert dropped[0][1].startswith("names nothing")


def test_exact_and_near_duplicates_are_dropped(grounder):
    kept, dropped = _check(
        [("location", "`Money` is defined in `src/ledger/money.py`."),
         ("location", "`Money`  is defined in src/ledger/money.py"),
         ("location", "The `Money` class lives in `src/ledger/money.py`."),
         ("api", "The `Money` class lives in `src/ledger/money.py`, see `Money`.")], grounder,
    )  # fmt: skip
    reasons = [why.split(":")[0] for _, why in dropped]
    assert len(kept) == 2 and reasons == ["duplicate", "near-duplicate"]
    assert {n.kind for n in kept} == {"location", "api"}


def test_cap_per_kind(grounder):
    claims = [
        ("location", f"`{name}` is defined in `src/ledger/dates.py`.")
        for name in ("month_start", "month_end", "add_months", "days_in_month")
    ]
    kept, dropped = _check(claims, grounder, per_kind=2)
    assert len(kept) == 2 and all(why.startswith("over the cap") for _, why in dropped)


def test_deduper_seeded_with_earlier_notes(grounder):
    earlier = Note(text="`Money` is defined in `src/ledger/money.py`.", kind="location",
                   names=["Money", "src/ledger/money.py"])  # fmt: skip
    kept, dropped = _check([("location", earlier.text)], grounder, deduper=Deduper([earlier]))
    assert kept == [] and dropped[0][1].startswith("duplicate")


def test_tautology_is_not_a_claim():
    assert shape_problem("`src/ledger/config.py` is defined in `src/ledger/config.py`.").startswith(
        "tautology"
    )


def test_claims_copied_from_the_prompts_example_are_dropped(grounder):
    example = "[pitfall] `Basket.total` must multiply each price by the item's quantity."
    kept, dropped = check_claims(
        [("pitfall", "`days_between` must multiply each price by the item's quantity."),
         ("api", "`days_between` takes `start` and `end` and returns a new number of days.")],
        grounder, Deduper(), per_kind=4, source="repo", examples=[example],
    )  # fmt: skip
    assert [n.kind for n in kept] == ["api"]
    assert dropped[0][1].startswith("copied from the prompt's example")
