"""view: numbered file windows and shallow directory listings, in a real sandbox."""

import re

import pytest

from tests.tools.conftest import SHOP, call
from tools.base import ToolContext, ToolLimits

pytestmark = pytest.mark.docker


def test_small_file_is_shown_whole_with_line_numbers(shared_box):
    result = call(shared_box, "view", path="src/shop/cart.py")
    lines = SHOP["src/shop/cart.py"].splitlines()
    assert (
        result.ok
        and result.text.splitlines()[0] == f"src/shop/cart.py ({len(lines)} lines, all shown)"
    )
    assert "   6| class Cart:" in result.text


def test_window_starts_at_start_and_says_where_to_continue(make_box):
    box = make_box({"big.py": "".join(f"x{i} = {i}\n" for i in range(1, 301))}, "local")
    result = call(box, "view", path="big.py", start=100)
    header, first = result.text.splitlines()[:2]
    match = re.fullmatch(r"big\.py, lines 100-(\d+) of 300 \(next: start=(\d+)\)", header)
    assert match and first.endswith("x100 = 100")
    assert int(match[2]) == int(match[1]) + 1


def test_window_is_bounded_by_the_output_budget(make_box):
    box = make_box({"wide.py": "".join(f"v{i} = '{'y' * 150}'\n" for i in range(200))}, "local")
    ctx = ToolContext(box, limits=ToolLimits(output_chars=1500))
    result = call(box, "view", ctx, path="wide.py")
    assert len(result.text) <= 1500 and "next: start=" in result.text


def test_last_window_says_end_of_file(make_box):
    box = make_box({"big.py": "".join(f"x{i} = {i}\n" for i in range(1, 101))}, "local")
    result = call(box, "view", path="big.py", start=90)
    assert result.text.splitlines()[0] == "big.py, lines 90-100 of 100 (end of file)"


def test_start_past_the_end_is_refused_with_the_length(shared_box):
    result = call(shared_box, "view", path="README.md", start=99)
    assert not result.ok and result.error_kind == "bad_arguments" and "3 lines" in result.text


def test_path_with_line_suffix_opens_near_that_line(make_box):
    box = make_box({"big.py": "".join(f"x{i} = {i}\n" for i in range(1, 201))}, "local")
    result = call(box, "view", path="big.py:120")
    assert result.ok and result.text.splitlines()[0].startswith("big.py, lines 110-")


def test_missing_file_suggests_the_real_one(shared_box):
    result = call(shared_box, "view", path="src/shop/carts.py")
    assert result.error_kind == "not_found" and "src/shop/cart.py" in result.text


def test_missing_file_elsewhere_is_found_by_name(shared_box):
    result = call(shared_box, "view", path="shop/cart.py")
    assert result.error_kind == "not_found" and "Did you mean: src/shop/cart.py" in result.text


def test_root_listing_shows_two_levels_with_line_counts(shared_box):
    text = call(shared_box, "view").text
    assert text.splitlines()[0].startswith("repository root")
    assert "src/" in text and "  shop/" in text and "README.md  (3 lines)" in text


def test_listing_skips_git_and_caches(make_box):
    box = make_box(
        {"a.py": "x = 1\n", "__pycache__/a.pyc": "junk", "venv/pyvenv.cfg": "home=/usr"}, "local"
    )
    text = call(box, "view", path=".").text
    assert ".git" not in text and "__pycache__" not in text and "venv" not in text


def test_listing_is_capped_with_a_count(make_box):
    box = make_box({f"m{i:03}.py": "" for i in range(300)}, "local")
    ctx = ToolContext(box, limits=ToolLimits(list_entries=50))
    text = call(box, "view", ctx, path=".").text
    assert "[… 250 more entries" in text


def test_paths_outside_the_workspace_are_refused(shared_box):
    result = call(shared_box, "view", path="../../etc/passwd")
    assert not result.ok and result.error_kind == "refused" and "root:" not in result.text


def test_binary_file_is_described_not_shown(make_box):
    box = make_box({"a.py": ""}, "local")
    box.write_file("blob.bin", bytes(range(256)) * 10)
    result = call(box, "view", path="blob.bin")
    assert result.error_kind == "refused" and "binary" in result.text and "\x00" not in result.text


def test_view_in_docker_sees_a_file_written_by_a_command(docker_box):
    docker_box.execute("printf 'made inside\\n' > inside.txt")
    assert call(docker_box, "view", path="inside.txt").text.endswith("1| made inside")


def test_aliases_and_string_numbers_are_accepted(shared_box):
    result = call(shared_box, "view", file="src/shop/cart.py", line="6")
    assert result.ok and result.text.splitlines()[1].endswith("class Cart:")
