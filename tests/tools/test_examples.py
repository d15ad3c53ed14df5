"""Tool examples with the run's repository's own names, instead of the sample project's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agent.examples import examples_dir
from tests.conftest import make_git_repo
from tests.tools.conftest import SHOP, call
from tests.tools.test_protocol import PLACEHOLDER
from tools.base import ToolContext, validate_arguments
from tools.calls import render_text_call
from tools.examples import repo_examples, with_examples
from tools.index import SymbolIndex
from tools.protocol import ParsedAction, parse_action, render_protocol
from tools.registry import Toolbox, ToolRegistry
from tools.types import ToolCall

SAMPLE_NAMES = re.compile(r"ledger|Money|money\.py")


@pytest.fixture
def shop(tmp_path) -> Path:
    return make_git_repo(tmp_path / "shop", SHOP)


def _examples(root: Path):
    examples = repo_examples(SymbolIndex.build(root))
    assert examples is not None
    return examples


def test_examples_name_the_repositorys_own_files(shop):
    examples = _examples(shop)
    view, listing = examples.by_tool["view"]
    assert view["path"] == "src/shop/cart.py" and listing == {"path": "tests"}
    lines = (shop / view["path"]).read_text().splitlines()
    assert lines[view["start"] - 1].lstrip().startswith("def ")
    assert examples.by_tool["run_tests"][0] == {"tests": "tests/test_cart.py"}
    assert examples.by_tool["bash"][0]["command"] == "python -m pytest -q tests/test_cart.py"
    assert examples.descriptions["run_tests"]["tests"].startswith(
        "test files or ids, such as tests/test_cart.py::test_"
    )
    assert examples.thought == "I will read Cart.add first."
    assert lines[view["start"] - 1].strip().startswith("def add(")


def test_the_prompt_shows_no_sample_project_name_and_no_placeholder(shop):
    examples = _examples(shop)
    text = render_protocol(with_examples(ToolRegistry().specs(), examples), "text", examples)
    assert SAMPLE_NAMES.search(text) is None, SAMPLE_NAMES.search(text)
    assert PLACEHOLDER.search(text) is None
    assert "use this repository's own\nfiles" in text
    assert "src/shop/cart.py" in text and "tests/test_cart.py" in text
    # Without examples the built-in ones stay, and say where they come from.
    assert "sample project\n(ledger)" in render_protocol(ToolRegistry().specs())


def test_every_example_parses_back_to_itself(shop):
    specs = with_examples(ToolRegistry().specs(), _examples(shop))
    for spec in specs:
        for example in spec.examples:
            parsed = parse_action(render_text_call(spec, example), specs)
            assert isinstance(parsed, ParsedAction) and parsed.call.name == spec.name
            assert validate_arguments(spec, parsed.call.arguments) == validate_arguments(
                spec, example
            )


def test_the_edit_example_applies_once_and_changes_no_behaviour(shop):
    edit = _examples(shop).by_tool["edit"][0]
    text = (shop / edit["path"]).read_text()
    assert text.count(edit["old"]) == 1
    changed = text.replace(edit["old"], edit["new"])
    assert changed != text
    # A comment only: the module's syntax tree is the same.
    assert ast.dump(ast.parse(changed)) == ast.dump(ast.parse(text))


def test_on_the_bundled_example_the_create_example_imports_a_real_function():
    root = examples_dir() / "ledger"
    examples = _examples(root)
    index = SymbolIndex.build(root)
    create = examples.by_tool["create"][0]
    assert create["path"].startswith("tests/") and not (root / create["path"]).exists()
    tree = ast.parse(create["content"])
    imported = tree.body[0]
    assert isinstance(imported, ast.ImportFrom) and imported.module is not None
    name = imported.names[0].name
    files = index.files_of_module(imported.module)
    assert files and any(d.name == name for d in index.definitions(files[0]))
    # The view example opens at that function's own line.
    view = examples.by_tool["view"][0]
    assert view["path"] == files[0]
    assert any(d.name == name and d.line == view["start"] for d in index.definitions(files[0]))


def test_a_repository_without_tests_keeps_the_built_in_examples(tmp_path):
    files = {key: value for key, value in SHOP.items() if not key.startswith("tests/")}
    assert repo_examples(SymbolIndex.build(make_git_repo(tmp_path / "r", files))) is None


def test_the_toolbox_teaches_with_the_repositorys_examples(shop):
    examples = _examples(shop)
    box = Toolbox(ToolContext(None), examples=examples)  # type: ignore[arg-type]
    assert "src/shop/cart.py" in box.protocol_text()
    # A call with a missing argument is answered with the usage and the local example.
    result = box.run(ToolCall(name="edit", arguments={"path": "src/shop/cart.py"}))
    assert result.error_kind == "bad_arguments"
    assert "src/shop/cart.py" in result.text and SAMPLE_NAMES.search(result.text) is None
    # Without examples nothing changes.
    assert Toolbox(ToolContext(None)).protocol_text() == render_protocol(ToolRegistry().specs())  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["docker", "local"])
def test_the_examples_run_in_a_real_sandbox_and_the_tests_still_pass(make_box, kind):
    box = make_box(SHOP, kind)
    examples = repo_examples(SymbolIndex.build(box.workspace))
    assert examples is not None
    assert call(box, "view", **examples.by_tool["view"][0]).ok
    assert call(box, "edit", **examples.by_tool["edit"][0]).ok
    create = examples.by_tool["create"][0]
    assert call(box, "create", **create).ok
    result = call(box, "run_tests", tests=create["path"])
    assert result.ok and "All 1 selected test passed" in result.text
    assert call(box, "run_tests").ok
