"""tools.resolution: dotted names looked up the way Python would, without running code."""

from __future__ import annotations

import pytest

from tools.resolution import Resolver


@pytest.fixture
def resolve(mini_index):
    return Resolver(mini_index).dotted


@pytest.mark.parametrize(
    ("name", "path", "qualified"),
    [
        ("pkg", "pkg/__init__.py", ""),
        ("pkg.core", "pkg/core.py", ""),
        ("pkg.core.Engine", "pkg/core.py", "Engine"),
        ("pkg.core.Engine.run", "pkg/core.py", "Engine.run"),
        ("pkg.core.Engine.size", "pkg/core.py", "Engine.size"),  # set in __init__
        ("pkg.core.Engine.name", "pkg/core.py", "Engine.name"),  # class field
        ("pkg.Engine.build", "pkg/core.py", "Engine.build"),  # re-exported by the package
        ("pkg.slugify", "pkg/util.py", "slugify"),  # through `from .util import *`
        ("pkg.core.slugify", "pkg/util.py", "slugify"),  # imported into core
        ("Engine.run", "pkg/core.py", "Engine.run"),  # a class by its own name
        ("TurboEngine.run", "pkg/core.py", "Engine.run"),  # inherited
        ("other.mod.helper", "src/other/mod.py", "helper"),  # src layout
        ("src.other.mod", "src/other/mod.py", ""),
        ("Kind.SMALL", "pkg/errors.py", "Kind.SMALL"),
    ],
)
def test_found(resolve, name, path, qualified):
    result = resolve(name)
    assert result.status == "found", result
    assert result.symbol.path == path
    assert result.symbol.name == qualified


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("pkg.utils", "utils"),
        ("pkg.core.Motor", "Motor"),
        ("pkg.core.Engine.stop", "stop"),
        ("Engine.stop", "stop"),
        ("TurboEngine.fly", "fly"),
        ("pkg.util._gone", "_gone"),
        ("AppError.nonexistent", "nonexistent"),  # checked against Exception itself
        ("Kind.MEDIUM", "MEDIUM"),  # checked against enum.Enum
    ],
)
def test_missing(resolve, name, missing):
    result = resolve(name)
    assert result.status == "missing", result
    assert result.missing == missing


def test_members_inherited_from_the_standard_library_exist(resolve):
    args = resolve("AppError.args")
    assert args.status == "found" and args.external == "Exception.args"
    assert resolve("Kind.name").status == "found"
    assert resolve("Engine.__repr__").status == "found"  # every class has object's


@pytest.mark.parametrize(
    "name", ["os.path.join", "json.loads", "requests.get", "dateutil.parser", "len", "Exception"]
)
def test_external_names_are_not_about_the_repo(resolve, name):
    assert resolve(name).status == "external"


@pytest.mark.parametrize(
    "name",
    [
        "pkg.lazy.anything",  # module-level __getattr__
        "pkg.ext.Plugin.whatever",  # third-party base class: members unknowable
        "pkg.core.LIMIT.bit_length",  # an attribute of a value
        "something_unknown.attr",
    ],
)
def test_undecidable_lookups_are_unknown_not_missing(resolve, name):
    assert resolve(name).status == "unknown"


def test_cycles_in_imports_terminate(tmp_path):
    from tests.conftest import make_git_repo
    from tools.index import SymbolIndex

    repo = make_git_repo(
        tmp_path / "cyc",
        {"a/__init__.py": "from .b import *\n", "a/b.py": "from . import *\nfrom .c import x\n",
         "a/c.py": "from .b import x\n"},
    )  # fmt: skip
    result = Resolver(SymbolIndex.build(repo)).dotted("a.x")
    assert result.status in ("missing", "unknown")


def test_class_member_by_short_name(mini_index):
    resolver = Resolver(mini_index)
    assert resolver.class_member("Engine", "run").status == "found"
    assert resolver.class_member("Engine", "nope").status == "missing"
    assert resolver.class_member("NotAClass", "run").status == "unknown"
