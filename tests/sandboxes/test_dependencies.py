"""Reading a repository's declared dependencies from a commit (no Docker, real git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sandboxes.dependencies import _poetry_constraint, read_dependencies
from tests.conftest import make_git_repo

BASE = "sha256:base"
TARGET = {"python": "3.11"}


def lines(spec) -> list[str]:
    return [r.line for r in spec.requirements]


def commit_all(repo: Path, message: str = "change") -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
        cwd=repo,
        check=True,
    )


def test_requirements_file_lines_options_and_includes(tmp_path):
    repo = make_git_repo(
        tmp_path / "r",
        {
            "requirements.txt": (
                "# pinned\nsix==1.16.0  # why\nattrs>=22 \\\n    ; python_version >= '3.8'\n"
                "-r requirements/test.txt\n-c constraints.txt\n--index-url https://evil.example/simple\n"
                "-e .\n./vendored/pkg\ngit+https://github.com/x/y\nz @ https://x.example/z.whl\n"
                "hashed==1.0 --hash=sha256:abc\n"
            ),
            "requirements/test.txt": "iniconfig\n",
            "constraints.txt": "attrs<30\n",
        },
    )
    spec = read_dependencies(repo)
    assert lines(spec) == [
        "six==1.16.0",
        "attrs>=22      ; python_version >= '3.8'",
        "iniconfig",
        "hashed==1.0",
    ]
    assert [r.line for r in spec.constraints] == ["attrs<30"]
    assert len(spec.skipped) == 5 and any("evil.example" in s for s in spec.skipped)
    assert spec.requirements[2].source == "requirements/test.txt:1"


def test_which_requirement_files_count(tmp_path):
    repo = make_git_repo(
        tmp_path / "r",
        {
            "requirements-dev.txt": "a\n",
            "test-requirements.txt": "b\n",
            "requirements-docs.txt": "sphinx\n",
            "requirements/ci.txt": "c\n",
            "vendor/lib/requirements.txt": "d\n",
            "notes.txt": "e\n",
        },
    )
    assert sorted(lines(read_dependencies(repo))) == ["a", "b", "c"]


def test_include_cannot_leave_the_repository(tmp_path):
    repo = make_git_repo(tmp_path / "r", {"requirements.txt": "-r ../../etc/passwd\nsix\n"})
    spec = read_dependencies(repo)
    assert lines(spec) == ["six"] and "outside the repository" in spec.skipped[0]


def test_pyproject_dependencies_test_extras_and_self_reference(tmp_path):
    pyproject = """
[project]
name = "My_Pkg"
dependencies = ["six>=1.16"]
[project.optional-dependencies]
test = ["iniconfig"]
docs = ["sphinx"]
dev = ["my-pkg[test]", "ruff"]
[dependency-groups]
tests = ["attrs", {include-group = "lint"}]
lint = ["flake8"]
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""
    repo = make_git_repo(tmp_path / "r", {"pyproject.toml": pyproject})
    spec = read_dependencies(repo)
    # test extras win over dev; docs is never installed; groups follow include-group.
    assert lines(spec) == ["six>=1.16", "iniconfig", "attrs", "flake8"]
    assert spec.project_name == "My_Pkg" and spec.build_requires == ["hatchling"]


def test_dev_extra_is_used_when_there_is_no_test_extra(tmp_path):
    pyproject = '[project]\nname = "p"\n[project.optional-dependencies]\ndev = ["p[lint]", "pytest"]\nlint = ["ruff"]\n'
    repo = make_git_repo(tmp_path / "r", {"pyproject.toml": pyproject})
    assert lines(read_dependencies(repo)) == ["ruff", "pytest"]


def test_poetry_constraints_become_pep508():
    cases = {
        "^1.2.3": ">=1.2.3,<2",
        "^0.2.1": ">=0.2.1,<0.3",
        "^0.0.3": ">=0.0.3,<0.0.4",
        "~1.2": ">=1.2,<1.3",
        "~1": ">=1,<2",
        "*": "",
        "1.4": "==1.4",
        ">=2,<3": ">=2,<3",
    }
    assert {k: _poetry_constraint("x", k)[1:] for k in cases} == cases
    assert _poetry_constraint("x", {"version": "^2", "extras": ["a"]}) == "x[a]>=2,<3"
    assert _poetry_constraint("x", {"path": "../x"}) is None


def test_poetry_tables(tmp_path):
    pyproject = """
[tool.poetry]
name = "poet"
[tool.poetry.dependencies]
python = "^3.9"
six = "^1.16"
local = {path = "../local"}
[tool.poetry.group.test.dependencies]
iniconfig = "*"
"""
    spec = read_dependencies(make_git_repo(tmp_path / "r", {"pyproject.toml": pyproject}))
    assert lines(spec) == ["six>=1.16,<2", "iniconfig"] and spec.project_name == "poet"
    assert any("local" in s for s in spec.skipped)


def test_setup_cfg(tmp_path):
    cfg = (
        "[metadata]\nname = legacy\n[options]\ninstall_requires =\n    six\n    attrs>=20\n"
        "[options.extras_require]\ntesting =\n    iniconfig\ndocs = sphinx\n"
    )
    spec = read_dependencies(make_git_repo(tmp_path / "r", {"setup.cfg": cfg}))
    assert lines(spec) == ["six", "attrs>=20", "iniconfig"] and spec.project_name == "legacy"


def test_setup_py_literals_are_read_without_running_it(tmp_path):
    setup_py = (
        "import os\nfrom setuptools import setup\nos.system('touch PWNED')\n"
        "BASE = ['six']\nsetup(name='old', install_requires=BASE + ['attrs'],\n"
        "      extras_require={'test': ['iniconfig'], 'docs': ['sphinx']},\n"
        "      tests_require=compute())\n"
    )
    repo = make_git_repo(tmp_path / "r", {"setup.py": setup_py})
    spec = read_dependencies(repo)
    assert lines(spec) == ["six", "attrs", "iniconfig"] and spec.project_name == "old"
    assert any("tests_require is computed" in s for s in spec.skipped)
    assert not (repo / "PWNED").exists()


def test_reads_the_commit_not_the_working_tree(tmp_path):
    repo = make_git_repo(tmp_path / "r", {"requirements.txt": "six\n"})
    (repo / "requirements.txt").write_text("attrs\n")
    assert lines(read_dependencies(repo)) == ["six"]
    commit_all(repo)
    assert lines(read_dependencies(repo)) == ["attrs"]
    assert lines(read_dependencies(repo, "HEAD~1")) == ["six"]


def test_plain_code_needs_no_image(tmp_path):
    spec = read_dependencies(make_git_repo(tmp_path / "r", {"a.py": "import os\n"}))
    assert not spec.needs_image(install_project=True) and not spec.is_package


def test_package_without_dependencies_needs_an_image_only_to_install_itself(tmp_path):
    pyproject = (
        '[project]\nname = "p"\ndependencies = []\n[build-system]\nrequires = ["setuptools>=61"]\n'
    )
    spec = read_dependencies(make_git_repo(tmp_path / "r", {"pyproject.toml": pyproject}))
    assert spec.needs_image(install_project=True) and not spec.needs_image(install_project=False)


def test_digest_ignores_order_and_unrelated_config(tmp_path):
    repo = make_git_repo(
        tmp_path / "r", {"requirements.txt": "six\nattrs\n", "pyproject.toml": "[tool.ruff]\n"}
    )
    first = read_dependencies(repo).digest(BASE, TARGET, True)
    (repo / "requirements.txt").write_text("attrs\nsix\n")
    (repo / "pyproject.toml").write_text("[tool.ruff]\nline-length = 99\n")
    commit_all(repo)
    assert read_dependencies(repo).digest(BASE, TARGET, True) == first


def test_digest_changes_with_requirements_base_and_target(tmp_path):
    repo = make_git_repo(tmp_path / "r", {"requirements.txt": "six\n"})
    spec = read_dependencies(repo)
    first = spec.digest(BASE, TARGET, True)
    assert spec.digest("sha256:other", TARGET, True) != first
    assert spec.digest(BASE, {"python": "3.12"}, True) != first
    (repo / "requirements.txt").write_text("six==1.16.0\n")
    commit_all(repo)
    assert read_dependencies(repo).digest(BASE, TARGET, True) != first


def test_digest_follows_packaging_metadata_only_when_installing_the_project(tmp_path):
    pyproject = '[project]\nname = "p"\nversion = "1"\n[project.scripts]\np = "p:main"\n'
    repo = make_git_repo(tmp_path / "r", {"pyproject.toml": pyproject})
    before = read_dependencies(repo)
    (repo / "pyproject.toml").write_text(pyproject.replace("p:main", "p.cli:main"))
    commit_all(repo)
    after = read_dependencies(repo)
    assert after.digest(BASE, TARGET, True) != before.digest(BASE, TARGET, True)
    assert after.digest(BASE, TARGET, False) == before.digest(BASE, TARGET, False)
