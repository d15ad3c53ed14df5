"""create: new files only (unless told), parse-checked for Python."""

import pytest

from tests.tools.conftest import CART, call

pytestmark = pytest.mark.docker


def test_creates_a_file_and_its_directories(box):
    result = call(box, "create", path="src/shop/deep/util.py", content="X = 1")
    assert result.ok and result.changed_files == ["src/shop/deep/util.py"]
    assert box.execute("cat src/shop/deep/util.py").output == "X = 1\n"


def test_refuses_to_clobber_an_existing_file(box):
    result = call(box, "create", path="src/shop/cart.py", content="x = 1\n")
    assert result.error_kind == "refused" and "overwrite: true" in result.text
    assert box.read_file("src/shop/cart.py").decode() == CART


def test_overwrite_replaces_the_file(box):
    result = call(box, "create", path="README.md", content="new\n", overwrite="true")
    assert result.ok and box.read_file("README.md") == b"new\n"


def test_unparsable_python_is_not_written(box):
    result = call(box, "create", path="bad.py", content="def f(:\n    pass\n")
    assert result.error_kind == "syntax_error" and "line 1" in result.text
    assert not (box.workspace / "bad.py").exists()


def test_outside_the_workspace_is_refused(box, tmp_path):
    result = call(box, "create", path="../escape.txt", content="x")
    assert result.error_kind == "refused" and not (box.workspace.parent / "escape.txt").exists()


def test_invalid_json_is_written_with_a_warning(box):
    result = call(box, "create", path="data.json", content='{"a": 1,}')
    assert result.ok and "Warning" in result.text and (box.workspace / "data.json").exists()
