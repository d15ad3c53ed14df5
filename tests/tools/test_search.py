"""search: git grep in the sandbox, grouped by file, capped, with fallbacks."""

import pytest

from tests.tools.conftest import call
from tools.base import ToolContext, ToolLimits

pytestmark = pytest.mark.docker


def test_literal_match_is_grouped_by_file_with_line_numbers(shared_box):
    text = call(shared_box, "search", pattern="def add(").text
    assert text.splitlines()[:2] == ["1 match in 1 file for 'def add(':", "src/shop/cart.py"]
    assert text.splitlines()[2] == "  10:     def add(self, name, price, quantity=1):"


def test_regex_characters_are_literal_by_default(shared_box):
    # "(self" is an unbalanced group as a regex; as text it matches.
    result = call(shared_box, "search", pattern="total(self")
    assert result.ok and "13:     def total(self):" in result.text


def test_regex_mode_uses_perl_syntax(shared_box):
    result = call(shared_box, "search", pattern=r"def \w+\(self\)", regex=True)
    assert "13:" in result.text and "16:" in result.text and "10:" not in result.text


def test_no_literal_match_falls_back_to_regex_and_says_so(shared_box):
    result = call(shared_box, "search", pattern="def (total|count)")
    assert "matched as a regular expression" in result.text and "16:" in result.text


def test_no_exact_match_falls_back_to_any_case_and_says_so(shared_box):
    result = call(shared_box, "search", pattern="CLASS CART")
    assert "matched ignoring case" in result.text and "6: class Cart:" in result.text


def test_nothing_found_says_so_with_advice(shared_box):
    result = call(shared_box, "search", pattern="no_such_identifier_anywhere")
    assert result.ok and result.text.startswith("No matches") and "Try" in result.text


def test_path_restricts_the_search(shared_box):
    result = call(shared_box, "search", pattern="Cart", path="tests")
    assert "tests/test_cart.py" in result.text and "src/shop" not in result.text


def test_glob_path_restricts_by_name(shared_box):
    result = call(shared_box, "search", pattern="shop", path="*.md")
    assert "README.md" in result.text and "pyproject" not in result.text


def test_missing_path_is_not_found_with_suggestion(shared_box):
    result = call(shared_box, "search", pattern="x", path="test")
    assert result.error_kind == "not_found" and "tests" in result.text


def test_invalid_regex_is_explained(shared_box):
    result = call(shared_box, "search", pattern="(unclosed", regex=True)
    assert result.error_kind == "bad_arguments" and "regular expression is invalid" in result.text


def test_shell_metacharacters_are_searched_not_run(shared_box):
    result = call(shared_box, "search", pattern="'; touch /workspace/pwned; echo '")
    assert result.ok and not (shared_box.workspace / "pwned").exists()


def test_results_are_capped_per_file_and_in_files_with_counts(make_box):
    files = {f"pkg/m{i:02}.py": "".join(f"hit_{j} = 1\n" for j in range(12)) for i in range(30)}
    box = make_box(files, "docker")
    ctx = ToolContext(box, limits=ToolLimits(search_files=3, search_matches_per_file=2))
    text = call(box, "search", ctx, pattern="hit_").text
    assert text.splitlines()[0].startswith("360 matches in 30 files")
    assert "pkg/m00.py (12 matches, first 2 shown)" in text
    assert "[27 more files with 324 matches not shown" in text


def test_untracked_files_are_searched(docker_box):
    docker_box.write_file("new_module.py", b"UNIQUE_MARKER = 1\n")
    assert "new_module.py" in call(docker_box, "search", pattern="UNIQUE_MARKER").text


def test_multi_line_pattern_is_refused_with_advice(shared_box):
    result = call(shared_box, "search", pattern="class Cart:\n    def")
    assert result.error_kind == "bad_arguments" and "one line" in result.text


def test_plain_grep_is_used_where_the_workspace_is_not_a_repository(docker_box):
    docker_box.execute("rm -rf .git")
    result = call(docker_box, "search", pattern="def add(")
    assert result.text.splitlines()[:3] == [
        "1 match in 1 file for 'def add(':",
        "src/shop/cart.py",
        "  10:     def add(self, name, price, quantity=1):",
    ]
