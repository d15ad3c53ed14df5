"""tools.symbols: what one Python file defines, imports and uses (real tree-sitter)."""

from __future__ import annotations

from tools.python_symbols import parse_python

SOURCE = b'''
"""Module doc."""
from __future__ import annotations

import os.path
import json as j
from . import sibling
from ..pkg.mod import thing as other, Helper
from .star import *

LIMIT = 10
a, (b, c) = 1, (2, 3)
_private: int = 3

try:
    import fast
except ImportError:
    def fallback(x):
        return x


@decorator.with_args(1)
class Shape(Base, metaclass=Meta):
    """A shape."""

    sides: int = 0

    def __init__(self, name: str) -> None:
        self.name = name
        self._cache: dict = {}
        other = self
        other.not_mine = 1

    @property
    def area(self) -> float:
        return helper(self.sides) + Helper.compute(LIMIT)

    @classmethod
    def make(
        cls,
        sides: int,
        *,
        name: str = "x",
    ) -> Shape:
        return cls(name)

    class Inner:
        def deep(self):
            def local():
                pass
            return local


async def fetch(url: str, retries=3):
    return await get(url, retries=retries, timeout=5)
'''


def defs():
    return {d.name: d for d in parse_python(SOURCE).definitions}


def test_module_level_definitions_with_kinds_and_lines():
    d = defs()
    assert d["LIMIT"].kind == "variable" and d["LIMIT"].line == 11
    assert {"a", "b", "c", "_private"} <= set(d)
    assert d["fetch"].kind == "function"
    assert d["Shape"].kind == "class"


def test_conditional_definitions_are_found():
    assert defs()["fallback"].kind == "function"


def test_methods_nested_classes_and_fields_are_qualified():
    d = defs()
    assert d["Shape.area"].kind == "method"
    assert d["Shape.make"].kind == "method"
    assert d["Shape.Inner"].kind == "class"
    assert d["Shape.Inner.deep"].kind == "method"
    assert d["Shape.sides"].kind == "attribute"
    # function-local definitions are not addressable from outside: not indexed
    assert not any(name.endswith("local") for name in d)


def test_self_attributes_belong_to_the_class_but_other_receivers_do_not():
    d = defs()
    assert d["Shape.name"].kind == "attribute"
    assert d["Shape._cache"].kind == "attribute"
    assert "Shape.not_mine" not in d


def test_signatures_are_one_line_headers():
    d = defs()
    assert d["Shape.make"].signature == ('def make(cls, sides: int, *, name: str = "x") -> Shape')
    assert d["fetch"].signature == "async def fetch(url: str, retries=3)"
    assert d["Shape"].signature == "class Shape(Base, metaclass=Meta)"
    assert d["Shape"].bases == ["Base"]


def test_decorators_and_decorated_line_span():
    d = defs()
    assert d["Shape.area"].decorators == ["property"]
    assert d["Shape"].decorators == ["decorator.with_args"]
    assert d["Shape"].line == 22  # the decorator line: where a reader starts
    assert d["Shape"].end_line > d["Shape.Inner.deep"].line


def test_imports_keep_module_level_and_alias():
    imports = parse_python(SOURCE).imports
    by_bound = {i.bound: i for i in imports}
    assert by_bound["os"].module == "os.path" and by_bound["os"].name is None
    assert by_bound["j"].module == "json"
    assert by_bound["sibling"].level == 1 and by_bound["sibling"].module == ""
    assert by_bound["other"].level == 2 and by_bound["other"].module == "pkg.mod"
    assert by_bound["other"].name == "thing"
    assert by_bound["Helper"].name == "Helper"
    assert any(i.name == "*" and i.module == "star" for i in imports)
    assert by_bound["fast"].line == 16  # imports inside try blocks count


def test_references_count_uses_not_definitions_or_parameters():
    parsed = parse_python(SOURCE)
    refs = parsed.references
    assert refs["helper"] == 1
    assert refs["Helper"] == 2  # the import and the use
    assert refs["LIMIT"] == 1
    assert "fetch" not in refs  # only defined
    assert "url" in refs  # used in the body (the parameter itself is not a use)
    assert "self" not in refs and "len" not in refs  # noise
    assert "retries" in refs
    assert "timeout" not in refs and "timeout" in parsed.words  # keyword-argument name


def test_names_after_a_dot_are_counted_apart_from_bare_names():
    parsed = parse_python(SOURCE)
    assert parsed.attributes["compute"] == 1
    assert parsed.attributes["sides"] == 1  # `self.sides`
    assert "compute" not in parsed.references


def test_syntax_errors_still_yield_definitions():
    parsed = parse_python(
        b"def ok(a):\n    return a\n\ndef broken(:\n    pass\n\nclass Later:\n    pass\n"
    )
    assert parsed.syntax_error
    names = {d.name for d in parsed.definitions}
    assert "ok" in names and "Later" in names


def test_non_utf8_bytes_do_not_raise():
    parsed = parse_python(b"NAME = '\xff\xfe'\ndef f():\n    pass\n")
    assert {d.name for d in parsed.definitions} == {"NAME", "f"}
