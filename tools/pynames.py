"""Names that belong to Python itself or to well-known packages, not to the repository.

Grounding must not count `os.path.join`, `pytest.raises` or `len()` as claims about the
repo. This module answers "is this name external?" and, for standard-library classes
only, "does this attribute exist on it?" (needed when a repo class inherits from
`Exception` or `Enum`).
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import sys
import warnings
from functools import lru_cache

STDLIB_MODULES: frozenset[str] = frozenset(sys.stdlib_module_names)
BUILTIN_NAMES: frozenset[str] = frozenset(dir(builtins))
KEYWORDS: frozenset[str] = frozenset(keyword.kwlist + keyword.softkwlist)

# Import names of packages common enough that a text naming them is about the package,
# not a claim that the repository defines them. Deliberately a short list of popular
# import names; the repo's own declared dependencies are added by the index.
_KNOWN = """
    pytest _pytest hypothesis mock nose tox coverage pluggy setuptools pkg_resources wheel pip
    numpy np pandas pd scipy sklearn matplotlib plt seaborn torch tensorflow tf keras jax
    transformers peft datasets tokenizers accelerate safetensors huggingface_hub
    requests httpx urllib3 aiohttp flask django fastapi starlette uvicorn werkzeug jinja2
    pydantic attr attrs yaml toml tomli tomli_w click typer rich tqdm colorama dateutil pytz
    sqlalchemy psycopg2 redis celery boto3 botocore docker git langchain langgraph openai
    anthropic tree_sitter lxml bs4 PIL cv2 networkx sympy numba cython black ruff mypy isort
    flake8 pylint pre_commit packaging platformdirs filelock six typing_extensions
"""
KNOWN_PACKAGES: frozenset[str] = frozenset(_KNOWN.split())

# Importing these runs code with visible effects (opens a browser, prints, needs a display).
_NEVER_IMPORT = frozenset(
    {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__hello__",
     "__phello__", "pydoc", "webbrowser", "ensurepip", "venv", "lib2to3", "site", "pty",
     "crypt", "msvcrt", "winreg", "winsound", "_testcapi", "_testinternalcapi"}
)  # fmt: skip


def is_stdlib(module: str) -> bool:
    return module.split(".", 1)[0] in STDLIB_MODULES


def is_external_module(module: str, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    top = module.split(".", 1)[0]
    return top in STDLIB_MODULES or top in KNOWN_PACKAGES or top in extra


@lru_cache(maxsize=512)
def stdlib_object(dotted: str) -> object | None:
    """The standard-library object `dotted` names (`enum.Enum`, `Exception`), or None when
    it is not a standard-library name or cannot be found. Only the standard library is
    ever imported here — never the repository's code."""
    if dotted in BUILTIN_NAMES:
        return getattr(builtins, dotted)
    parts = dotted.split(".")
    if parts[0] not in STDLIB_MODULES or parts[0] in _NEVER_IMPORT:
        return None
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            with warnings.catch_warnings():  # deprecated modules warn on import
                warnings.simplefilter("ignore")
                obj: object = importlib.import_module(module_name)
        except Exception:  # any failure just means "cannot tell"
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return None
            obj = getattr(obj, attr)
        return obj
    return None


def has_attribute(obj: object, attr: str) -> bool:
    """`hasattr`, plus what a class declares for its instances only (`Enum.name` is a
    descriptor that raises when read from the class itself)."""
    if hasattr(obj, attr):
        return True
    return isinstance(obj, type) and any(attr in vars(k) for k in obj.__mro__)


# Standard-library modules whose public names are common enough in prose and code that
# a text naming them (`OrderedDict`, `dataclass()`, `TestCase`) means the library.
_COMMON_MODULES = [
    "abc",
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "collections.abc",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "errno",
    "fnmatch",
    "fractions",
    "functools",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "http",
    "io",
    "inspect",
    "itertools",
    "json",
    "logging",
    "math",
    "numbers",
    "operator",
    "os",
    "os.path",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "queue",
    "random",
    "re",
    "secrets",
    "shlex",
    "shutil",
    "signal",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "tomllib",
    "traceback",
    "types",
    "typing",
    "unittest",
    "unittest.mock",
    "urllib.parse",
    "uuid",
    "warnings",
    "weakref",
    "zipfile",
    "zoneinfo",
]

# CamelCase words that are product or project names, not code.
TECH_WORDS: frozenset[str] = frozenset(
    [
        "GitHub",
        "GitLab",
        "JavaScript",
        "TypeScript",
        "CoffeeScript",
        "PyTorch",
        "TensorFlow",
        "LangGraph",
        "LangChain",
        "OpenAI",
        "HuggingFace",
        "PyPI",
        "NumPy",
        "SciPy",
        "FastAPI",
        "PostgreSQL",
        "MySQL",
        "SQLite",
        "MongoDB",
        "WebSocket",
        "PowerShell",
        "DevOps",
        "YouTube",
        "LinkedIn",
        "MacBook",
        "iPhone",
        "LaTeX",
        "ReadTheDocs",
        "DockerHub",
        "VSCode",
        "IntelliJ",
        "PyCharm",
        "CPython",
        "PyPy",
        "MicroPython",
        "IPython",
        "JupyterLab",
        "TeX",
        "BibTeX",
    ]
)


@lru_cache(maxsize=1)
def common_external_names() -> frozenset[str]:
    """Public names of the common standard-library modules (imported once, lazily; only
    standard-library modules, never repository code)."""
    names: set[str] = set(BUILTIN_NAMES)
    for module_name in _COMMON_MODULES:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # a module missing from a trimmed Python: just fewer names
            continue
        names.add(module_name.rsplit(".", 1)[-1])
        names.update(n for n in dir(module) if not n.startswith("_"))
    return frozenset(names)


# Members that classes commonly inherit from outside a repository (test cases, errors,
# containers): `self.assertEqual(...)` in a test is not a claim about the repo.
@lru_cache(maxsize=1)
def inherited_member_names() -> frozenset[str]:
    import unittest

    names: set[str] = set()
    for cls in (object, Exception, dict, list, set, str, int, tuple, unittest.TestCase):
        names.update(dir(cls))
    return frozenset(names)
