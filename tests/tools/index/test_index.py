"""tools.index: file listing, module names, the cache and incremental updates."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tools.index import SymbolIndex, SymbolIndexError, index_cache_path


def age(path, seconds: float = 60.0) -> None:
    """Move a file's mtime into the past, out of the racy-stat window."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def age_all(root) -> None:
    for p in root.rglob("*.py"):
        age(p)


def test_lists_tracked_and_untracked_files_but_not_ignored(mini_repo):
    (mini_repo / ".gitignore").write_text("secret.py\n")
    (mini_repo / "secret.py").write_text("X = 1\n")
    (mini_repo / "fresh.py").write_text("Y = 2\n")
    index = SymbolIndex.build(mini_repo)
    assert "fresh.py" in index.paths
    assert "secret.py" not in index.paths
    assert "docs/guide.md" in index.paths
    assert "pkg/core.py" in index.entries and "docs/guide.md" not in index.entries


def test_deleted_tracked_file_is_not_listed(mini_repo):
    (mini_repo / "pkg" / "lazy.py").unlink()
    assert "pkg/lazy.py" not in SymbolIndex.build(mini_repo).paths


def test_a_plain_directory_is_walked_without_caches(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text("def f():\n    pass\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x.py").write_text("")
    index = SymbolIndex.build(tmp_path)
    assert index.paths == ["a/m.py"]


def test_a_subdirectory_of_a_git_repo_is_indexed_relative_to_itself(mini_repo):
    index = SymbolIndex.build(mini_repo / "src")
    assert index.paths == ["other/__init__.py", "other/mod.py"]


def test_missing_root_is_a_user_facing_error(tmp_path):
    with pytest.raises(SymbolIndexError) as err:
        SymbolIndex.build(tmp_path / "nope")
    assert err.value.user_facing


def test_module_names_follow_packages_and_src_layout(mini_index):
    assert mini_index.module_of("pkg/core.py") == "pkg.core"
    assert mini_index.module_of("pkg/__init__.py") == "pkg"
    assert mini_index.module_of("src/other/mod.py") == "other.mod"
    assert mini_index.module_of("tests/test_core.py") == "test_core"
    # longer spellings importable as namespace packages are aliases
    assert mini_index.files_of_module("src.other.mod") == ["src/other/mod.py"]
    assert mini_index.files_of_module("tests.test_core") == ["tests/test_core.py"]


def test_relative_imports_resolve_against_the_package(mini_index):
    ref = next(r for r in mini_index.symbols("pkg/core.py").imports if r.name == "AppError")
    assert mini_index.absolute_import("pkg/core.py", ref) == "pkg.errors"
    init_ref = next(r for r in mini_index.symbols("pkg/__init__.py").imports if r.name == "Engine")
    assert mini_index.absolute_import("pkg/__init__.py", init_ref) == "pkg.core"


def test_find_paths_exact_suffix_absolute_and_mounted(mini_index, mini_repo):
    assert mini_index.find_paths("pkg/core.py") == ["pkg/core.py"]
    assert mini_index.find_paths("./pkg/core.py") == ["pkg/core.py"]
    assert mini_index.find_paths("core.py") == ["pkg/core.py"]
    assert mini_index.find_paths(str(mini_repo / "pkg" / "util.py")) == ["pkg/util.py"]
    assert mini_index.find_paths("/workspace/pkg/util.py") == ["pkg/util.py"]
    assert mini_index.find_paths("docs/") == ["docs"]
    assert mini_index.find_paths("ore.py") == []  # suffixes only on a `/` boundary
    assert mini_index.find_paths("/etc/passwd") == []


def test_external_modules_include_imports_and_declared_dependencies(mini_index):
    assert {"os", "enum", "somelib"} <= mini_index.external_modules
    assert {"dateutil", "requests"} <= mini_index.external_modules
    assert "pkg" not in mini_index.external_modules


# ---------------------------------------------------------------------- cache


def test_cache_is_written_and_reused_without_reparsing(mini_repo, tmp_path):
    cache = tmp_path / "cache" / "index.json"
    age_all(mini_repo)
    first = SymbolIndex.build(mini_repo, cache)
    assert cache.is_file()
    assert first.stats.parsed == first.stats.python_files > 0
    second = SymbolIndex.build(mini_repo, cache)
    assert second.stats.cache_loaded
    assert second.stats.parsed == 0
    # parsed just now: within the racy window the content hash is checked again
    assert second.stats.reused + second.stats.rehashed == second.stats.python_files
    assert second.definitions("pkg/core.py") == first.definitions("pkg/core.py")


def test_old_unchanged_files_are_trusted_by_stat(mini_repo, tmp_path):
    cache = tmp_path / "index.json"
    age_all(mini_repo)
    SymbolIndex.build(mini_repo, cache)
    # Pretend the hashes were taken long after the files were last written.
    data = json.loads(cache.read_text())
    for entry in data["files"].values():
        entry["hashed_ns"] = time.time_ns()
    cache.write_text(json.dumps(data))
    warm = SymbolIndex.build(mini_repo, cache)
    assert warm.stats.reused == warm.stats.python_files
    assert warm.stats.parsed == warm.stats.rehashed == 0


def test_only_the_changed_file_is_reparsed(mini_repo, tmp_path):
    cache = tmp_path / "index.json"
    SymbolIndex.build(mini_repo, cache)
    (mini_repo / "pkg" / "util.py").write_text(
        "def slugify(text):\n    return text\n\ndef added():\n    pass\n"
    )
    updated = SymbolIndex.build(mini_repo, cache)
    assert updated.stats.parsed == 1
    assert "added" in {d.name for d in updated.definitions("pkg/util.py")}


def test_same_size_rewrite_inside_the_racy_window_is_noticed(mini_repo, tmp_path):
    cache = tmp_path / "index.json"
    target = mini_repo / "pkg" / "util.py"
    SymbolIndex.build(mini_repo, cache)
    before = target.stat()
    text = target.read_text().replace("slugify", "slugifx")  # same size
    target.write_text(text)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    updated = SymbolIndex.build(mini_repo, cache)
    assert "slugifx" in {d.name for d in updated.definitions("pkg/util.py")}


def test_removed_and_added_files_update_the_cache(mini_repo, tmp_path):
    cache = tmp_path / "index.json"
    SymbolIndex.build(mini_repo, cache)
    (mini_repo / "pkg" / "lazy.py").unlink()
    (mini_repo / "pkg" / "new.py").write_text("class Fresh:\n    pass\n")
    updated = SymbolIndex.build(mini_repo, cache)
    assert updated.stats.removed == 1 and updated.stats.parsed == 1
    assert "pkg/lazy.py" not in json.loads(cache.read_text())["files"]
    assert updated.defined_as("Fresh")[0].path == "pkg/new.py"


@pytest.mark.parametrize("damage", ["garbage", "old-parser", "old-format"])
def test_a_corrupt_or_outdated_cache_is_rebuilt_not_trusted(mini_repo, tmp_path, damage):
    cache = tmp_path / "index.json"
    SymbolIndex.build(mini_repo, cache)
    data = json.loads(cache.read_text())
    if damage == "garbage":
        cache.write_text('{"format_version": 1, "files": {"pkg/core.py": [')
    else:
        data["parser_version" if damage == "old-parser" else "format_version"] = -1
        cache.write_text(json.dumps(data))
    rebuilt = SymbolIndex.build(mini_repo, cache)
    assert not rebuilt.stats.cache_loaded
    assert rebuilt.stats.parsed == rebuilt.stats.python_files
    assert json.loads(cache.read_text())["parser_version"] >= 1


def test_for_repo_caches_under_engram_home_by_repo_id(mini_repo, isolated_home):
    from sandboxes.repo import repo_identity

    index = SymbolIndex.for_repo(mini_repo)
    expected = isolated_home / "repos" / repo_identity(mini_repo).id / "index.json"
    assert index.cache_path == expected == index_cache_path(repo_identity(mini_repo).id)
    assert expected.is_file()


def test_a_clone_shares_the_cache_when_given_the_repo_id(mini_repo, tmp_path):
    from sandboxes.repo import repo_identity

    repo_id = repo_identity(mini_repo).id
    SymbolIndex.for_repo(mini_repo, repo_id=repo_id)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(mini_repo), str(clone)], check=True)
    age_all(clone)
    index = SymbolIndex.for_repo(clone, repo_id=repo_id)
    assert index.stats.cache_loaded
    assert index.stats.parsed == 0  # same contents, different files: hashes match


def test_refresh_sees_new_definitions(mini_repo, tmp_path):
    index = SymbolIndex.build(mini_repo, tmp_path / "index.json")
    (mini_repo / "pkg" / "core.py").write_text("def replaced():\n    pass\n")
    fresh = index.refresh()
    assert fresh.defined_as("replaced") and not fresh.defined_as("Engine")
    assert index.defined_as("Engine")  # the old snapshot is unchanged


def test_symbolic_links_are_listed_but_never_read(mini_repo, tmp_path):
    secret = tmp_path / "outside" / "secret.py"
    secret.parent.mkdir()
    secret.write_text('API_TOKEN = "do-not-leak"\n')
    (mini_repo / "pkg" / "leak.py").symlink_to(secret)
    (mini_repo / "linked").symlink_to(secret.parent, target_is_directory=True)
    index = SymbolIndex.build(mini_repo)
    assert "pkg/leak.py" in index.paths
    assert "pkg/leak.py" not in index.entries
    assert not index.defined_as("API_TOKEN")
    assert not any(p.startswith("linked/") and p in index.entries for p in index.paths)


def test_a_linked_pyproject_is_not_read_for_dependencies(mini_repo, tmp_path):
    fake = tmp_path / "elsewhere.toml"
    fake.write_text('[project]\ndependencies = ["leakypkg"]\n')
    (mini_repo / "pyproject.toml").unlink()
    (mini_repo / "pyproject.toml").symlink_to(fake)
    assert "leakypkg" not in SymbolIndex.build(mini_repo).external_modules


def test_a_run_workspace_is_indexed_into_the_user_repos_cache(mini_repo, tmp_path):
    """The agent's real setting: a private clone (no remote) indexed under the id of the
    user's repository, then edited by the run."""
    from sandboxes.repo import repo_identity
    from sandboxes.workspace import Workspace

    repo_id = repo_identity(mini_repo).id
    SymbolIndex.for_repo(mini_repo, repo_id=repo_id)
    ws = Workspace.create(mini_repo, tmp_path / "ws", tmp_path / "snap.git", "run-1")
    index = SymbolIndex.for_repo(ws.path, repo_id=repo_id)
    assert index.stats.cache_loaded and index.stats.parsed == 0
    (ws.path / "pkg" / "util.py").write_text(
        "def slugify(text):\n    return text\n\n\ndef extra():\n    pass\n"
    )
    index = index.refresh()
    assert index.stats.parsed == 1
    assert index.defined_as("extra")[0].path == "pkg/util.py"
    assert (
        not (mini_repo / "pkg" / "util.py").read_text().count("extra")
    )  # user's checkout untouched
