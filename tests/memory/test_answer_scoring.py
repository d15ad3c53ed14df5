"""What the repo evaluation counts as a right answer."""

from __future__ import annotations

import pytest

from memory.answer_scoring import is_correct, score_answer
from memory.repo_questions import RepoQuestion

PATH_Q = RepoQuestion(id="1", kind="defined_in", question="Which file defines the class `Money`?",
                      answer="src/ledger/money.py",
                      accept=["src/ledger/money.py", "ledger/money.py", "ledger.money", "money.py"])  # fmt: skip


@pytest.mark.parametrize(
    "answer, right",
    [
        ("src/ledger/money.py", True),
        ("`src/ledger/money.py`", True),
        ("It is defined in `src/ledger/money.py:12`.", True),
        ("./src/ledger/money.py", True),
        ("/workspace/src/ledger/money.py", True),
        ("ledger/money.py", True),
        ("ledger.money", True),
        ("money.py", True),
        ("src/ledger/journal.py", False),
        ("src/ledger/journal.py or src/ledger/money.py", False),  # hedging: the first one counts
        ("src/ledger/money.pyc", False),
        ("The Money class.", False),
        ("", False),
    ],
)
def test_path_answers(answer, right):
    assert is_correct(PATH_Q, answer) is right


def test_name_answers_need_a_whole_token():
    q = RepoQuestion(id="2", kind="method_of", question="Which class has `split`?",
                     answer="Money", accept=["Money", "Money.split"])  # fmt: skip
    assert is_correct(q, "The `Money` class.")
    assert is_correct(q, "Money.split")
    assert not is_correct(q, "MoneyBag")
    assert not is_correct(q, "money")  # names are case-sensitive, as in Python


def test_parameters_partial_credit():
    q = RepoQuestion(id="3", kind="parameters", question="What parameters does `f` take?",
                     answer="text, default_currency", accept=["text, default_currency", "text",
                                                                 "default_currency"])  # fmt: skip
    assert score_answer(q, "`text` and `default_currency`") == 1.0
    assert is_correct(q, "default_currency, text")  # order is not checked
    assert is_correct(q, "f(text: str, default_currency=None)")
    assert score_answer(q, "text") == pytest.approx(2 / 3)
    assert not is_correct(q, "text")
    assert score_answer(q, "self, value") == 0.0


def test_listing_extra_names_is_wrong():
    q = RepoQuestion(id="7", kind="parameters", question="?", answer="fullname, path",
                     accept=["fullname, path", "fullname", "path"])  # fmt: skip
    assert not is_correct(q, "`fullname`, `path`, `module`, `coder`")
    assert score_answer(q, "`fullname`, `path`, `module`, `coder`") == pytest.approx(2 / 3)
    assert is_correct(q, "*fullname*, **path**")


def test_single_parameter():
    q = RepoQuestion(id="4", kind="parameters", question="?", answer="period", accept=["period"])
    assert is_correct(q, "period")


def test_returns():
    q = RepoQuestion(id="5", kind="returns", question="?", answer="dict[str, Decimal]", accept=[])
    assert is_correct(q, "`dict[str,Decimal]`")
    assert not is_correct(q, "dict")
    plain = RepoQuestion(id="6", kind="returns", question="?", answer="Money", accept=[])
    assert is_correct(plain, "A `Money` instance")
    assert not is_correct(plain, "Moneyish")
