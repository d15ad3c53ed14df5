"""tools.grounding: which names in a text the repository has (real index, real parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.grounding import Grounder, ground
from tools.grounding_eval import evaluate, load_labelled

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def check(mini_index):
    grounder = Grounder(mini_index)

    def run(text: str) -> dict[str, tuple[bool, str]]:
        return {c.name: (c.exists, c.kind) for c in grounder.check(text).checks}

    return run


# ---------------------------------------------------------------------- what is found


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        ("see pkg/core.py", "pkg/core.py", "path"),
        ("open `core.py`", "core.py", "path"),
        ("the docs are in `docs/`", "docs", "path"),
        ("`pkg.core` holds the engine", "pkg.core", "module"),
        ("`Engine.run` slugifies", "Engine.run", "method"),
        ("call `start()`", "start", "function"),
        ("TurboEngine extends it", "TurboEngine", "class"),
        ("`slugify` lowers text", "slugify", "function"),
        ("`pkg.core.LIMIT` is 3", "pkg.core.LIMIT", "symbol"),
        ("the `size` attribute", "size", "symbol"),
    ],
)
def test_existing_names_are_found_with_their_kind(check, text, name, kind):
    assert check(text)[name] == (True, kind)


def test_found_names_say_where(mini_index):
    result = ground("`Engine.build` makes one", mini_index)
    assert result.checks[0].resolved_to == "pkg/core.py:23 (Engine.build)"
    assert result.grounded


# ---------------------------------------------------------------------- what is missing


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        ("see pkg/motor.py", "pkg/motor.py", "path"),
        ("`pkg.utils` helps", "pkg.utils", "module"),
        ("`Engine.stop()` halts it", "Engine.stop", "method"),
        ("`TurboEngine.fly` too", "TurboEngine.fly", "method"),
        ("call `slugify_all()` first", "slugify_all", "function"),
        ("a `MotorEngine` would", "MotorEngine", "class"),
        ("`pkg.core.Motor` is the class", "pkg.core.Motor", "class"),
        ("```python\nfrom pkg.core import Engine, Motor\n```", "pkg.core.Motor", "class"),
        ("```python\nimport pkg.helpers\n```", "pkg.helpers", "module"),
        ("```python\nimport enginelib\n```", "enginelib", "module"),
        ("```python\nengine = Engine(2)\nengine.explode()\n```", "engine.explode", "method"),
        (
            "```python\nclass X(Engine):\n    def go(self):\n        self.warp()\n```",
            "self.warp",
            "method",
        ),
        ("`slugify` is defined in `pkg/core.py`", "slugify in pkg/core.py", "function"),
        ("```diff\n--- a/pkg/motor.py\n+++ b/pkg/motor.py\n```", "pkg/motor.py", "path"),
        # A repository function put on a class nobody has.
        ("`Slugs.slugify` lowers text", "Slugs.slugify", "class"),
        ("`pkg/motor.py::test_start` fails", "pkg/motor.py", "path"),
    ],
)
def test_missing_names_are_reported(check, text, name, kind):
    assert check(text)[name] == (False, kind)


def test_a_pytest_node_id_is_a_file_and_the_names_in_it(check):
    # `pkg/core.py::start` is no attribute `py` of `pkg/core`: the file, then its names.
    assert check("run `pkg/core.py::start[x-1]` again") == {
        "pkg/core.py": (True, "path"),
        "start": (True, "function"),
    }


def test_a_wrong_location_says_where_the_name_really_is(mini_index):
    result = ground("`slugify` is defined in `pkg/core.py`", mini_index)
    wrong = result.missing[0]
    assert wrong.resolved_to == "pkg/util.py:4 (slugify)"


# ---------------------------------------------------------------------- not claims


@pytest.mark.parametrize(
    "text",
    [
        "use os.path.join and json.loads",
        "`pytest.raises(ValueError)` catches it",
        "call `len()` and `sorted()`",
        "an `OrderedDict` or a `ThreadPoolExecutor`",
        "push it to GitHub and PyPI",
        "```python\nimport numpy as np\nimport requests\nfrom dateutil import parser\n```",
        "the file(s) and test(s), e.g. the first one, i.e. this, etc.",
        "see https://example.com/pkg/motor.py and www.python.org",
        "a version like 3.11.7 or v2.0.1",
        "the config in /etc/motor.conf or ~/motor.toml",
        "`Engine.__eq__` compares",  # object has it
        "`AppError.args` holds the message",  # Exception has it
        "`Kind.name` is SMALL",  # Enum has it
        "`pkg.ext.Plugin.anything`",  # third-party base: unknowable
        "`pkg.lazy.whatever`",  # module __getattr__
        "```python\nresult = json.loads(text)\nresult.frobnicate()\n```",  # unknown type
        "```python\nclass T(unittest.TestCase):\n    def test(self):\n        self.assertEqual(1, 1)\n```",
        "`HTTPError.code` is 404",  # a class-like head, and a member the repo lacks: unknowable
    ],
)
def test_external_and_unknowable_names_are_not_reported(check, text):
    assert not [name for name, (exists, _) in check(text).items() if not exists]


@pytest.mark.parametrize(
    "text",
    [
        "I'll add a new helper `rebuild_cache` to util.py.",
        "Create a function called `warm_up` in core.py.",
        "Let me write a `MotorEngine` class.",
        "```python\ndef refuel(engine):\n    return engine\n\nclass Motor:\n    pass\n\nrefuel(Motor())\n```",
        "```python\nclass Engine2(Engine):\n    def fly(self):\n        return self.fly2()\n\n    def fly2(self):\n        pass\n```",
        "```bash\ntouch pkg/motor.py && cat > pkg/gear.py\n```",
        "```diff\n--- /dev/null\n+++ b/pkg/motor.py\n@@\n+X = 1\n```",
    ],
)
def test_names_the_text_defines_are_not_claims(check, text):
    assert not [name for name, (exists, _) in check(text).items() if not exists]


def test_each_name_is_checked_once(mini_index):
    result = ground("`Engine.run`, then `Engine.run` again and Engine.run()", mini_index)
    assert [c.name for c in result.checks] == ["Engine.run"]


def test_imports_in_code_are_followed_through_aliases(check):
    checks = check("```python\nimport pkg.core as c\nc.Engine.build()\nc.Motor()\n```")
    assert checks["c.Engine.build"] == (True, "method")  # named as written
    assert checks["c.Motor"][0] is False


def test_variables_typed_by_a_function_return_annotation(check):
    # `start` is annotated `-> str`: str is not a repo class, nothing to check
    assert check("```python\nx = start()\nx.anything()\n```") == {"start": (True, "function")}
    checks = check("```python\ne = Engine.build()\ne.run()\ne.halt()\n```")
    assert checks["e.run"] == (True, "method")
    assert checks["e.halt"] == (False, "method")


# ---------------------------------------------------------------------- labelled sets


@pytest.fixture(scope="module")
def ledger_grounder(ledger_index):
    return Grounder(ledger_index)


def test_labelled_set_is_large_and_balanced():
    records = load_labelled(DATA / "ledger_grounding.jsonl")
    assert len(records) >= 60
    assert sum(r.hallucinated for r in records) == len(records) // 2
    assert all(r.missing for r in records if r.hallucinated)
    assert not any(r.missing for r in records if not r.hallucinated)


def test_labelled_set_precision_and_recall_floor(ledger_grounder):
    """Regression floor (docs/grounding.md has the measured figures)."""
    result = evaluate(load_labelled(DATA / "ledger_grounding.jsonl"), ledger_grounder)
    assert result.sentences.precision >= 0.95, result.errors
    assert result.sentences.recall >= 0.90, result.errors
    assert result.names.precision >= 0.95, result.errors
    assert result.names.recall >= 0.90, result.errors


def test_held_out_set_precision_and_recall_floor(ledger_grounder):
    """Written in a freer style after the extractor was done; lower recall expected."""
    result = evaluate(load_labelled(DATA / "ledger_grounding_heldout.jsonl"), ledger_grounder)
    assert result.sentences.precision >= 0.95, result.errors
    assert result.sentences.recall >= 0.80, result.errors
    assert result.names.precision >= 0.90, result.errors


# ---------------------------------------------------------------------- the agent's actions


def test_text_protocol_view_and_run_tests_claim_their_paths(check):
    assert check("```view\npath: pkg/core.py\nstart: 10\n```") == {"pkg/core.py": (True, "path")}
    assert check("```view\npath: pkg/motor.py\n```") == {"pkg/motor.py": (False, "path")}
    checks = check("```run_tests\ntests: tests/test_core.py::test_run tests/test_x.py\n```")
    assert checks == {"tests/test_core.py": (True, "path"), "tests/test_x.py": (False, "path")}


def test_a_search_pattern_is_a_question_not_a_claim(check):
    assert check("```search\npattern: def warp_drive\n```") == {}


def test_edit_replace_side_is_checked_with_search_side_bindings(check):
    text = (
        "```edit\npath: pkg/core.py\n<<<<<<< SEARCH\n        return slugify(self.name)\n"
        "=======\n        label = slugify(self.name)\n        return label.upper() + warp(label)\n"
        ">>>>>>> REPLACE\n```"
    )
    checks = check(text)
    assert checks["pkg/core.py"] == (True, "path")
    assert checks["slugify"] == (True, "function")
    assert checks["warp"] == (False, "function")
    assert "label.upper" not in checks  # a local of unknown type


def test_create_defines_its_path_and_checks_its_imports(check):
    text = "```create\npath: pkg/gear.py\nfrom pkg.core import Engine, Gearbox\n\nGEARS = 3\n```"
    checks = check(text)
    assert "pkg/gear.py" not in checks
    assert checks["pkg.core.Engine"] == (True, "class")
    assert checks["pkg.core.Gearbox"] == (False, "class")
