"""edit: exact replacement, with refusals that teach (missing, ambiguous, unparsable)."""

import pytest

from tests.tools.conftest import CART, call

pytestmark = pytest.mark.docker


def test_exact_replacement_changes_only_that_text(box):
    result = call(box, "edit", path="src/shop/cart.py", old="Decimal(0))", new="Decimal('0'))")
    assert result.ok and result.changed_files == ["src/shop/cart.py"]
    assert box.read_file("src/shop/cart.py").decode() == CART.replace(
        "Decimal(0))", "Decimal('0'))"
    )


def test_success_shows_the_edited_region_numbered(box):
    result = call(
        box, "edit", path="src/shop/cart.py",
        old="        return sum(quantity for _, _, quantity in self.items)",
        new="        return len(self.items)",
    )  # fmt: skip
    assert "replaced 1 line at line 17 with 1 line" in result.text
    assert "  17|         return len(self.items)" in result.text


def test_the_edit_is_visible_inside_the_sandbox(box):
    call(box, "edit", path="README.md", old="A tiny shop.", new="A small shop.")
    assert "A small shop." in box.execute("cat README.md").output


def test_missing_text_is_refused_with_the_closest_lines(box):
    result = call(
        box, "edit", path="src/shop/cart.py",
        old="    def total(self):\n        return sum(price for price in self.items)",
        new="    def total(self):\n        return 0",
    )  # fmt: skip
    assert not result.ok and result.error_kind == "not_found"
    assert "closest lines are 13-14" in result.text and "  13|     def total(self):" in result.text
    assert box.read_file("src/shop/cart.py").decode() == CART


def test_missing_text_names_the_file_that_has_it(box):
    result = call(box, "edit", path="README.md", old="class Cart:", new="class Basket:")
    assert "src/shop/cart.py line 6" in result.text


def test_ambiguous_text_is_refused_with_each_line_number(box):
    result = call(box, "edit", path="src/shop/cart.py", old="in self.items", new="in items")
    assert result.error_kind == "ambiguous" and "2 times" in result.text
    assert "lines 14, 17" in result.text and box.read_file("src/shop/cart.py").decode() == CART


def test_edit_leaving_python_unparsable_is_refused_and_file_unchanged(box):
    result = call(
        box, "edit", path="src/shop/cart.py", old="    def count(self):", new="    def count(self)"
    )
    assert result.error_kind == "syntax_error" and "line 16" in result.text
    assert ">  16|     def count(self)" in result.text
    assert box.read_file("src/shop/cart.py").decode() == CART


def test_indentation_off_by_a_constant_is_matched_and_shifted(box):
    result = call(
        box, "edit", path="src/shop/cart.py",
        old="def count(self):\n    return sum(quantity for _, _, quantity in self.items)",
        new="def count(self):\n    return len(self.items)",
    )  # fmt: skip
    assert result.ok and "indentation adjusted by +4" in result.text
    assert (
        "    def count(self):\n        return len(self.items)\n"
        in box.read_file("src/shop/cart.py").decode()
    )


def test_copied_line_numbers_are_stripped(box):
    result = call(
        box, "edit", path="src/shop/cart.py",
        old="  19| def empty_cart():\n  20|     return Cart()",
        new="  19| def empty_cart():\n  20|     return Cart()  # fresh",
    )  # fmt: skip
    assert result.ok and "line-number prefixes removed" in result.text
    assert box.read_file("src/shop/cart.py").decode().endswith("    return Cart()  # fresh\n")


def test_deleting_whole_lines_leaves_no_blank_line(box):
    call(box, "edit", path="README.md", old="A tiny shop.", new="")
    assert box.read_file("README.md").decode() == "# shop\n\n"


def test_crlf_files_keep_their_line_endings(make_box):
    box = make_box({"win.txt": "one\r\ntwo\r\nthree\r\n"}, "local")
    call(box, "edit", path="win.txt", old="two\nthree", new="2\n3")
    assert box.read_file("win.txt") == b"one\r\n2\r\n3\r\n"


def test_missing_file_suggests_create(box):
    result = call(box, "edit", path="src/shop/basket.py", old="x", new="y")
    assert result.error_kind == "not_found" and "use create" in result.text


def test_identical_old_and_new_is_refused(box):
    result = call(box, "edit", path="README.md", old="shop", new="shop")
    assert result.error_kind == "bad_arguments"


def test_file_that_did_not_parse_before_can_still_be_edited(make_box):
    box = make_box({"broken.py": "def f(:\n    pass\nX = 1\n"}, "local")
    result = call(box, "edit", path="broken.py", old="X = 1", new="X = 2")
    assert result.ok and "did not parse before" in result.text
