"""Problem statements: what the user saw, never the fix or the mutated line."""

from __future__ import annotations

from bench.mutation import find_mutations
from bench.statement import FailureFacts, clean_traceback, humanise, write_statement
from tools.testing.discovery import TestPlan

LIBRARY = b"""\
def total(prices):
    result = 0
    for price in prices:
        result = result - price
    return result
"""

TESTS = b'''\
from shop.cart import total


def test_total_adds_prices():
    """The total of a cart is the sum of its prices."""
    assert total([1, 2]) == 3


def test_empty():
    assert total([]) == 0
'''

PYTEST_OUTPUT = """\
F                                                                        [100%]
=================================== FAILURES ===================================
____________________________ test_total_adds_prices ____________________________
tests/test_cart.py:6: in test_total_adds_prices
    assert total([1, 2]) == 3
src/shop/cart.py:4: in total
    result = result - price
<string>:5: in __init__
    ???
E   assert -3 == 3
E    +  where -3 = total([1, 2])
E   Use -v to get more diff
=========================== short test summary info ============================
FAILED tests/test_cart.py::test_total_adds_prices - assert -3 == 3
1 failed in 0.05s
"""

PLAN = TestPlan(framework="pytest", source="t", pythonpath=["src"])


def facts(excerpt: str = PYTEST_OUTPUT, messages: dict | None = None) -> FailureFacts:
    clean = LIBRARY.replace(b"result - price", b"result + price")
    mutation = next(m for m in find_mutations("src/shop/cart.py", clean) if m.kind == "arithmetic")
    files = {"src/shop/cart.py": clean, "tests/test_cart.py": TESTS}
    return FailureFacts(
        failing=["tests/test_cart.py::test_total_adds_prices", "tests/test_cart.py::test_empty"],
        messages=messages or {}, excerpt=excerpt, plan=PLAN, mutations=[mutation],
        read_clean=files.get, public_names={"total"},
    )  # fmt: skip


def test_traceback_keeps_test_frames_and_errors_only():
    text = clean_traceback(PYTEST_OUTPUT)
    assert "tests/test_cart.py:6: in test_total_adds_prices" in text
    assert "E   assert -3 == 3" in text
    assert "src/shop/cart.py" not in text and "result - price" not in text
    assert "<string>" not in text and "???" not in text
    assert "Use -v" not in text and "short test summary" not in text


def test_long_section_titles_are_dropped_too():
    long_title = PYTEST_OUTPUT.replace(
        "____________________________ test_total_adds_prices ____________________________",
        "_ test_total_adds_prices[a very long parameter id that fills the line] _",
    )
    assert "parameter id" not in clean_traceback(long_title)


def test_statement_describes_the_failure_without_the_bug():
    for iid in ("a", "b", "c", "d", "e", "f"):  # every template
        text = write_statement(f"shop__bug-{iid}", facts())
        assert "tests/test_cart.py::test_total_adds_prices" in text
        assert "PYTHONPATH=src python -m pytest tests/test_cart.py::test_total_adds_prices" in text
        assert "assert -3 == 3" in text
        assert "the total of a cart is the sum of its prices" in text
        assert "`total`" in text  # the API the test exercises
        assert "tests/test_cart.py::test_empty" in text
        assert "result + price" not in text and "result - price" not in text
        assert "cart.py:4" not in text


def test_a_line_quoting_the_mutated_code_is_dropped_even_from_error_text():
    leaky = PYTEST_OUTPUT.replace("E   assert -3 == 3", "E   NameError in result = result - price")
    text = write_statement("shop__bug-x", facts(leaky))
    assert "result - price" not in text and "assert total([1, 2]) == 3" in text


def test_without_output_the_short_message_is_used():
    text = write_statement("shop__bug-x", facts("", {
        "tests/test_cart.py::test_total_adds_prices": "assert -3 == 3 (tests/test_cart.py:6)"}))  # fmt: skip
    assert "assert -3 == 3 (tests/test_cart.py:6)" in text


def test_humanise():
    assert humanise("tests/test_x.py::TestA::test_splits_on_commas[a,b]") == (
        "splits on commas (case `a,b`)"
    )
    assert humanise("tests.test_more.ChunkedTests.test_even") == "even"
