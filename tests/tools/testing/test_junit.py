"""JUnit XML from a real pytest 9 run (the dev dependency) → outcomes with node ids."""

import subprocess
import sys

import pytest

from tests.conftest import make_git_repo
from tests.tools.conftest import RICH_EXPECTED, RICH_PYTEST
from tools.testing.junit import JUnitError, node_id, parse_junit


@pytest.fixture(scope="module")
def pytest9_report(tmp_path_factory) -> bytes:
    repo = make_git_repo(tmp_path_factory.mktemp("j") / "repo", RICH_PYTEST)
    report = repo.parent / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "--rootdir=.", "-o", "junit_family=xunit1",
         f"--junitxml={report}", "-q", "-p", "no:cacheprovider",
         "--continue-on-collection-errors"],
        cwd=repo, capture_output=True, check=False,
    )  # fmt: skip
    return report.read_bytes()


def test_pytest9_statuses_and_node_ids(pytest9_report):
    outcomes = parse_junit(pytest9_report).outcomes
    assert {o.test_id: o.status for o in outcomes} == RICH_EXPECTED


def test_pytest9_collection_error(pytest9_report):
    (error,) = parse_junit(pytest9_report).collection_errors
    assert error.test_id == "tests/test_broken_import.py" and "does_not_exist" in error.message


def test_setup_error_message_names_the_cause(pytest9_report):
    outcome = next(o for o in parse_junit(pytest9_report).outcomes if o.status == "error")
    assert "fixture exploded" in outcome.message


@pytest.mark.parametrize(
    ("classname", "name", "file", "expected"),
    [
        ("tests.test_a", "test_x", "tests/test_a.py", "tests/test_a.py::test_x"),
        ("tests.test_a.TestK", "test_x[1-a.b]", "tests/test_a.py", "tests/test_a.py::TestK::test_x[1-a.b]"),
        ("tests.test_a.TestK.TestIn", "test_x", "tests/test_a.py", "tests/test_a.py::TestK::TestIn::test_x"),
        ("", "tests.test_a", "tests/test_a.py", "tests/test_a.py"),
        ("src.pkg.mod", "pkg.mod.func", "src/pkg/mod.py", "src/pkg/mod.py::pkg.mod.func"),
        ("weird.place", "test_y", None, "weird.place::test_y"),
    ],
)  # fmt: skip
def test_node_id_reconstruction(classname, name, file, expected):
    assert node_id(classname, name, file) == expected


def test_invalid_xml_is_an_error_not_a_crash():
    with pytest.raises(JUnitError):
        parse_junit(b"<testsuites><testcase")


def test_teardown_error_after_a_failure_keeps_the_worse_status():
    xml = (
        '<testsuites><testsuite><testcase classname="t" name="test_a" file="t.py">'
        '<failure message="assert 0">t.py:2: AssertionError</failure></testcase>'
        '<testcase classname="t" name="test_a" file="t.py"><error message="failed on teardown">'
        "x</error></testcase></testsuite></testsuites>"
    )
    (outcome,) = parse_junit(xml).outcomes
    assert outcome.test_id == "t.py::test_a" and outcome.status == "error"
