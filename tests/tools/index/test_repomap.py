"""tools.repomap: ranking, personalisation and rendering into a token budget."""

from __future__ import annotations

import re

import pytest

from tools.repomap import Focus, RepoMap, estimate_tokens


def order(ranking) -> list[str]:
    return sorted(ranking.files, key=lambda p: -ranking.files[p])


def test_a_file_everyone_uses_outranks_an_isolated_one(mini_index):
    ranking = RepoMap(mini_index).rank()
    assert ranking.files["pkg/core.py"] > ranking.files["pkg/lazy.py"]
    assert ranking.files["pkg/util.py"] > ranking.files["pkg/lazy.py"]
    assert sum(ranking.files.values()) == pytest.approx(1.0)


def test_imports_resolve_edges_to_the_defining_file(mini_index):
    graph = RepoMap(mini_index).graph()
    pos = graph.position
    # tests/test_core.py imports Engine from pkg.core: an edge named for the class
    assert (pos["tests/test_core.py"], pos["pkg/core.py"], "Engine") in graph.name_edges
    # src/other/mod.py imports Engine via the package's re-export: still pkg/core.py
    assert (pos["src/other/mod.py"], pos["pkg/core.py"], "Engine") in graph.name_edges
    # names from outside the repository make no edges
    assert not any(name == "Enum" for (_, _, name) in graph.name_edges)


def test_focus_on_a_file_moves_it_to_the_top(mini_index):
    repo_map = RepoMap(mini_index)
    assert order(repo_map.rank())[0] != "pkg/ext.py"
    assert order(repo_map.rank(Focus.of(files=["pkg/ext.py"])))[0] == "pkg/ext.py"


def test_focus_on_an_identifier_ranks_its_definition_first(mini_index):
    ranking = RepoMap(mini_index).rank(Focus.of(identifiers=["boost"]))
    top = ranking.definitions[0]
    assert (top.path, top.definition.name) == ("pkg/core.py", "TurboEngine.boost")


def test_ledger_task_mentioning_a_method_puts_its_file_first(ledger_index):
    repo_map = RepoMap(ledger_index)
    text = repo_map.render(
        Focus.of(files=["tests/test_budget.py"], identifiers=["check_alerts"]), budget=300
    ).text
    assert text.splitlines()[0] == "src/ledger/budget.py:"
    assert re.search(r"^\d+: def check_alerts\(", text, re.M)


@pytest.mark.parametrize("budget", [0, 5, 20, 60, 150, 400, 2000])
def test_the_map_never_exceeds_its_budget(ledger_index, budget):
    rendered = RepoMap(ledger_index).render(budget=budget)
    assert estimate_tokens(rendered.text) <= budget if rendered.text else True
    assert rendered.tokens <= budget


def test_a_different_token_counter_is_respected(ledger_index):
    def words(text: str) -> int:
        return len(text.split())

    rendered = RepoMap(ledger_index).render(budget=120, count_tokens=words)
    assert 100 < words(rendered.text) <= 120


def test_more_budget_shows_a_superset(ledger_index):
    repo_map = RepoMap(ledger_index)
    small = repo_map.render(budget=150)
    large = repo_map.render(budget=600)
    assert set(small.definitions) < set(large.definitions)


def test_lines_carry_real_line_numbers_and_signatures(mini_index):
    rendered = RepoMap(mini_index).render(Focus.of(files=["pkg/core.py"]), budget=2000)
    lines = rendered.text.splitlines()
    start = lines.index("pkg/core.py:")
    block = lines[start + 1 : start + 12]
    assert "10: class Engine" in block
    assert "  18: def run(self) -> str" in block
    assert "  23: @classmethod def build(cls) -> Engine" in block


def test_a_method_brings_its_class_line(mini_index):
    rendered = RepoMap(mini_index).render(Focus.of(identifiers=["boost"]), budget=40)
    assert "pkg/core.py:TurboEngine.boost" in rendered.definitions
    assert "pkg/core.py:TurboEngine" in rendered.definitions
    assert rendered.text.index("class TurboEngine") < rendered.text.index("def boost")


def test_excluded_files_are_not_rendered(mini_index):
    rendered = RepoMap(mini_index).render(Focus.of(files=["pkg/core.py"], exclude=["pkg/core.py"]))
    assert "pkg/core.py" not in rendered.files
    assert "pkg/core.py" not in rendered.text


def test_spare_budget_lists_further_files(mini_index):
    rendered = RepoMap(mini_index).render(budget=2000)
    assert "docs/guide.md" not in rendered.files  # only Python files are ranked
    assert set(rendered.files) == set(mini_index.entries)


def test_private_names_rank_below_public_ones(mini_index):
    ranking = RepoMap(mini_index).rank(Focus.of(files=["pkg/util.py"]))
    scores = {r.definition.name: r.score for r in ranking.definitions if r.path == "pkg/util.py"}
    assert scores["slugify"] > scores["_hidden"]


def test_an_empty_repository_renders_nothing(tmp_path):
    from tools.index import SymbolIndex

    (tmp_path / "README.md").write_text("nothing here\n")
    rendered = RepoMap(SymbolIndex.build(tmp_path)).render(budget=100)
    assert rendered.text == "" and rendered.tokens == 0


@pytest.mark.model
def test_the_estimate_errs_high_against_the_embedded_model_tokenizer(
    embedded_model_dir, ledger_index
):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(embedded_model_dir))

    def real(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    repo_map = RepoMap(ledger_index)
    for budget in (100, 500, 2000):
        estimated = repo_map.render(budget=budget)
        assert real(estimated.text) <= budget
        exact = repo_map.render(budget=budget, count_tokens=real)
        assert exact.tokens == real(exact.text) <= budget
        # the estimate wastes little: the real-token map is not much larger
        assert len(exact.definitions) <= 1.35 * len(estimated.definitions) + 2


def test_focus_from_a_task_and_a_traceback(ledger_index):
    from tools.repomap import focus_from

    task = (
        "Budget rollover is wrong: tests/test_budget.py::test_rollover_carries_unused_amounts "
        "fails and `Money.frobnicate` is not even a thing.\n"
        "Traceback (most recent call last):\n"
        '  File "/workspace/src/ledger/reports.py", line 110, in budget_report\n'
        '  File "/workspace/src/ledger/budget.py", line 99, in carried_over\n'
    )
    focus = focus_from(ledger_index, [task], opened=["src/ledger/dates.py"])
    assert set(focus.files) == {
        "src/ledger/reports.py", "src/ledger/budget.py", "tests/test_budget.py",
        "src/ledger/dates.py",
    }  # fmt: skip
    assert {"budget_report", "carried_over"} <= set(focus.identifiers)
    assert "frobnicate" not in focus.identifiers  # only names the repository has
    rendered = RepoMap(ledger_index).render(focus, budget=250)
    assert rendered.files[0] == "src/ledger/budget.py"
    assert "def carried_over(" in rendered.text
