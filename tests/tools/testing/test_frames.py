"""Traceback frames on failing outcomes (pytest junit and the unittest runner), and the
structured run that the run_tests tool hands to the graph."""

import pytest

from tests.tools.conftest import call
from tools.testing import run_test_suite
from tools.testing.junit import frames_of, parse_junit

CALC = """def check(x):
    if x < 0:
        raise ValueError("negative")
    return x


def root(x):
    return check(x) ** 0.5
"""
PYTEST_REPO = {
    "calc.py": CALC,
    "tests/test_calc.py": (
        "from calc import root\n\n\ndef test_root():\n    assert root(-4) == 2\n\n\n"
        "def test_ok():\n    assert root(4) == 2\n"
    ),
}
UNITTEST_REPO = {
    "calc.py": CALC,
    "tests/__init__.py": "",
    "tests/test_calc.py": (
        "import unittest\n\nfrom calc import root\n\n\nclass TestRoot(unittest.TestCase):\n"
        "    def test_root(self):\n        self.assertEqual(root(-4), 2)\n\n"
        "    def test_ok(self):\n        self.assertEqual(root(4), 2)\n"
    ),
}


def test_frames_are_read_from_pytest_details_outermost_first():
    details = (
        "def test_root():\n>       assert root(-4) == 2\n\ntests/test_calc.py:5: \n"
        "_ _ _\ncalc.py:8: in root\n    return check(x) ** 0.5\n"
        "calc.py:3: ValueError\n"
    )
    assert frames_of(details) == ["tests/test_calc.py:5", "calc.py:8", "calc.py:3"]


def test_junit_failure_carries_frames_and_a_pass_has_none():
    xml = (
        '<testsuites><testsuite><testcase classname="t" name="test_a" file="t.py">'
        '<failure message="ValueError">t.py:2: in test_a\n    f()\nm.py:7: ValueError'
        '</failure></testcase><testcase classname="t" name="test_b" file="t.py"/>'
        "</testsuite></testsuites>"
    )
    failed, passed = parse_junit(xml).outcomes
    assert failed.frames == ["t.py:2", "m.py:7"] and passed.frames == []


@pytest.mark.docker
@pytest.mark.parametrize("files", [PYTEST_REPO, UNITTEST_REPO], ids=["pytest", "unittest"])
def test_a_real_failure_points_into_the_code_that_raised(make_box, files):
    run = run_test_suite(make_box(files))
    failing = next(o for o in run.outcomes if o.test_id.endswith("test_root"))
    assert failing.frames[0].startswith("tests/test_calc.py:")
    assert failing.frames[-2:] == ["calc.py:8", "calc.py:3"]
    assert all(o.frames == [] for o in run.outcomes if o.passed)


@pytest.mark.docker
def test_run_tests_result_keeps_only_the_failing_outcomes(make_box):
    result = call(make_box(PYTEST_REPO), "run_tests")
    assert result.tests is not None and not result.ok
    assert (result.tests.passed, result.tests.failed) == (1, 1)
    assert [o.test_id for o in result.tests.outcomes] == ["tests/test_calc.py::test_root"]
    assert result.tests.output_tail == ""
