"""locate: where an edit's old text is; exact first, then the two forgiven mistakes."""

from tools.locate import exact_offsets, locate
from tools.text import closest_region, strip_line_numbers

TEXT = "def f():\n    if x:\n        return 1\n    return 2\n"


def test_overlapping_occurrences_are_all_counted():
    assert exact_offsets("aaa", "aa") == [0, 1]


def test_exact_match_wins():
    found = locate(TEXT, "return 1", "return 3")
    assert found.unique and found.unique.how == "" and found.unique.new == "return 3"


def test_uniform_missing_indentation_is_added_to_new():
    found = locate(TEXT, "if x:\n    return 1", "if y:\n    return 5")
    span = found.unique
    assert span and span.new == "    if y:\n        return 5" and "+4" in span.how


def test_uniform_extra_indentation_is_removed_from_new():
    found = locate(
        TEXT, "        if x:\n            return 1", "        if y:\n            return 5"
    )
    assert found.unique and found.unique.new == "    if y:\n        return 5"


def test_non_uniform_indentation_is_not_forgiven():
    assert locate(TEXT, "if x:\n  return 1", "if y:\n  return 5").spans == []


def test_trailing_spaces_are_forgiven():
    found = locate(TEXT, "    if x:   \n        return 1", "    if x:\n        return 9")
    assert found.unique and found.unique.how == "ignoring whitespace at line ends"


def test_two_whitespace_matches_are_ambiguous():
    text = "a:\n    x = 1\nb:\n    x = 1\n"
    assert len(locate(text, "x = 1\n", "x = 2\n").spans) == 2


def test_line_number_prefixes_are_recognised():
    assert strip_line_numbers("  12| a\n> 13|     b\n") == "a\n    b\n"
    assert strip_line_numbers("a\n  12| b") is None


def test_closest_region_finds_the_intended_lines():
    lines = [f"line {i}" for i in range(100)] + ["    def total(self):", "        return sum(x)"]
    start, end, ratio = closest_region(lines, ["def total(self):", "    return sum(y)"])
    assert (start, end) == (100, 102) and ratio > 0.8
