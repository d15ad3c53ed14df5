"""Tool names as models write them: shell dialects, code languages, and the names
models reach for instead of ours (`cat`, `grep`, `str_replace`), for suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from tools.types import ToolSpec

# Info strings that mean "shell": accepted as bash.
SHELL_NAMES = frozenset(
    {"sh", "shell", "console", "terminal", "zsh", "shell-session", "bash-session", "cmd", "command"}
)
# Info strings of plain code blocks: never actions, and not unknown tools either.
LANGUAGES = frozenset(
    {
        "python", "py", "python3", "pycon", "ipython", "diff", "patch", "udiff", "text", "txt",
        "plaintext", "json", "yaml", "yml", "toml", "ini", "cfg", "markdown", "md", "rst",
        "javascript", "js", "typescript", "ts", "html", "css", "xml", "csv", "sql", "c", "cpp",
        "java", "go", "rust", "ruby", "output", "log", "none", "plain", "jinja", "dockerfile",
    }
)  # fmt: skip
# Names models reach for instead of ours.
SYNONYMS = {
    "open": "view", "cat": "view", "read": "view", "read_file": "view", "show": "view",
    "ls": "view", "list": "view", "view_file": "view", "open_file": "view",
    "grep": "search", "find": "search", "rg": "search", "search_code": "search",
    "find_file": "search", "write": "create", "write_file": "create", "create_file": "create",
    "new_file": "create", "replace": "edit", "str_replace": "edit", "edit_file": "edit",
    "patch": "edit", "apply_patch": "edit", "run": "bash", "exec": "bash", "execute": "bash",
    "python": "bash", "pytest": "run_tests", "test": "run_tests", "tests": "run_tests",
    "finish": "submit", "done": "submit", "exit": "submit", "stop": "submit",
}  # fmt: skip


def suggest_tool(name: str, names: Sequence[str]) -> str | None:
    wanted = name.strip().lower()
    if SYNONYMS.get(wanted) in names:
        return SYNONYMS[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_tool_text(name: str, specs: Sequence[ToolSpec]) -> str:
    names = [s.name for s in specs]
    guess = suggest_tool(name, names)
    text = f"There is no tool named {name!r}."
    if guess:
        text += f" Did you mean {guess}?"
    return text + f" The tools are: {', '.join(names)}."
