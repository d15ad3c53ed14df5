"""`bash`: run a shell command in the sandbox, from the repository root.

Each command is a fresh `bash -c` (a `cd` does not carry over), with a timeout, its
output capped (head and tail kept, the cut stated) and the exit code stated.
Programs that wait for a person (editors, pagers, a bare `python`, `tail -f`) are
refused before they run, with what to use instead: in a sandbox without a terminal
they would only hang until the timeout.

The sandbox image may have `python3` but no `python`; models type `python` anyway,
so where it is missing a `python` link to `python3` is put on the end of PATH.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from tools.base import ToolContext, failure
from tools.text import cut_middle
from tools.types import ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="bash",
    summary="Run a shell command in the repository root and show its output.",
    description=(
        "Each command starts in the repository root (cd does not carry over). There is no "
        "network and no terminal: editors, pagers and interactive programs are refused. "
        "The output is cut in the middle when long; the exit code is stated."
    ),
    params=[
        ToolParam(
            name="command",
            description="the command line (several lines are allowed)",
            aliases=["cmd", "script", "shell", "commands", "code", "bash"],
        ),
        ToolParam(
            name="timeout",
            type="integer",
            required=False,
            description="seconds before the command is killed (default 60)",
            aliases=["timeout_s", "seconds", "time_limit"],
        ),
    ],
    body_param="command",
    examples=[
        {"command": "python -m pytest -q tests/test_money.py"},
        {"command": "git diff"},
    ],
)

SHIM_DIR = "/tmp/.engram-bin"
_SEPARATORS = {";", "&&", "||", "|", "&", "|&", "(", ")", "\n", ";;", "{", "}", "!"}
_PREFIXES = {"sudo", "env", "time", "nohup", "exec", "command", "builtin", "then", "do",
             "else", "elif", "if", "while", "until", "xargs", "nice"}  # fmt: skip
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^(?:\S*/)?python(?:\d(?:\.\d+)?)?$")

_EDITORS = "an editor needs a terminal. Use edit to change part of a file or create to write one."
_PAGER = "a pager needs a terminal. Use view, or cat / head -n 40 / sed -n '10,40p' FILE."
_INTERACTIVE: dict[str, str] = {
    **dict.fromkeys(["vim", "vi", "nvim", "nano", "emacs", "pico", "joe", "micro"], _EDITORS),
    **dict.fromkeys(["less", "more", "most"], _PAGER),
    **dict.fromkeys(["top", "htop", "btop"], "it never ends. Use ps aux for a snapshot."),
    "man": "it is a pager. Use COMMAND --help.",
    "watch": "it never ends. Run the command once.",
    **dict.fromkeys(["ssh", "telnet", "ftp", "sftp", "nc"], "the sandbox has no network."),
    **dict.fromkeys(
        ["ipython", "bpython", "ptpython"],
        "an interactive interpreter needs a terminal. Run python3 -c 'print(1)' or a script file.",
    ),
    "pdb": "the debugger is interactive. Add print() calls or run python3 -c '...'.",
}
_NO_NETWORK = (
    "Temporary failure in name resolution", "Network is unreachable", "Could not resolve host",
    "No matching distribution found", "Failed to establish a new connection",
    "Name or service not known",
)  # fmt: skip


def _tokens(command: str) -> list[str]:
    lex = shlex.shlex(command, posix=True, punctuation_chars="();<>|&\n")
    lex.whitespace = " \t\r"
    lex.whitespace_split = True
    return list(lex)


def _simple_commands(command: str) -> list[tuple[str, list[str], str]]:
    """(program, args, separator before it) for each simple command; heredoc bodies skipped."""
    try:
        tokens = _tokens(command)
    except ValueError:  # unbalanced quotes: bash will say so itself
        return []
    out: list[tuple[str, list[str], str]] = []
    before = ""
    index = 0
    while index < len(tokens):
        while index < len(tokens) and tokens[index] in _SEPARATORS:
            before = tokens[index]
            index += 1
        words: list[str] = []
        while index < len(tokens) and tokens[index] not in _SEPARATORS:
            token = tokens[index]
            if token in ("<<", "<<-") and index + 1 < len(tokens):
                delimiter = tokens[index + 1].strip("'\"")
                words.append(token)  # stdin comes from the heredoc: not interactive
                index += 2
                while index < len(tokens) and tokens[index].strip() != delimiter:
                    index += 1
                index += 1
                continue
            words.append(token)
            index += 1
        while words and (
            _ASSIGNMENT.match(words[0]) or words[0] in _PREFIXES or words[0] == "timeout"
        ):
            # `timeout 30 cmd`: skip the duration too.
            words = words[2:] if words[0] == "timeout" and len(words) > 1 else words[1:]
        if words:
            out.append((words[0].rsplit("/", 1)[-1], words[1:], before))
    return out


def interactive_reason(command: str) -> str | None:
    """Why `command` would wait for a person, or None."""
    for program, args, before in _simple_commands(command):
        if program in _INTERACTIVE:
            return f"{program}: {_INTERACTIVE[program]}"
        if program == "tail" and any(a in ("-f", "-F", "--follow") for a in args):
            return "tail -f never ends. Use tail -n 50 FILE."
        if _PYTHON.match(program):
            flags = [a for a in args if a.startswith("-")]
            runs_something = any(not a.startswith("-") for a in args) or any(
                a in ("-c", "-m") for a in flags
            )
            if "-i" in flags or (not runs_something and before not in ("|", "|&")):
                return (
                    f"a bare {program} starts an interactive interpreter. Run code with "
                    f"{program} -c 'print(1 + 1)', or create a script file and run it."
                )
            if "-m" in args and args[args.index("-m") + 1 : args.index("-m") + 2] == ["pdb"]:
                return _INTERACTIVE["pdb"]
        if program in ("bash", "sh", "zsh", "dash") and not args and before not in ("|", "|&"):
            return f"a bare {program} is an interactive shell. Put the commands here directly."
        if program == "git" and args:
            sub, rest = args[0], args[1:]
            if sub == "commit" and not any(
                a.startswith(("-m", "-F", "--message", "--file", "--no-edit", "-C"))
                or (a.startswith("-") and not a.startswith("--") and "m" in a)
                for a in rest
            ):
                return "git commit without -m opens an editor. Use git commit -m 'message'."
            if sub in ("rebase", "add") and any(a in ("-i", "--interactive", "-p") for a in rest):
                return f"git {sub} -i/-p is interactive. Use the non-interactive form."
    return None


def shell_prefix(ctx: ToolContext) -> str:
    """What to put before every command: a PATH that has `python` if the image lacks it."""
    if "python_shim" not in ctx.state:
        probe = ctx.sandbox.execute(
            "command -v python >/dev/null 2>&1 && echo have || "
            f"{{ p=$(command -v python3) && mkdir -p {SHIM_DIR} && "
            f'ln -sf "$p" {SHIM_DIR}/python && echo shim; }}',
            timeout=30,
        )
        ctx.state["python_shim"] = probe.output.strip().endswith("shim")
    return f'export PATH="$PATH:{SHIM_DIR}"; ' if ctx.state["python_shim"] else ""


class Bash:
    spec = SPEC

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        command = str(args["command"]).strip("\n")
        if not command.strip():
            return failure("bad_arguments", "The command is empty.")
        reason = interactive_reason(command)
        if reason:
            return failure("refused", f"Not run: {reason}")
        limits = ctx.limits
        timeout = float(args.get("timeout") or limits.bash_timeout_s)
        timeout = min(max(1.0, timeout), limits.max_timeout_s)
        result = ctx.sandbox.execute(shell_prefix(ctx) + command, timeout=timeout)
        output = result.output
        if result.timed_out:
            output = re.sub(r"\n?\[command timed out after [^\]]*\]\s*$", "", output)
        body, cut = cut_middle(output.rstrip("\n"), limits.output_chars - 200)
        lines = [body if body.strip() else "(no output)"]
        if result.timed_out:
            lines.append(
                f"[timed out after {timeout:.0f} s; the command was killed. Give a larger "
                f"timeout (at most {limits.max_timeout_s:.0f}) or a narrower command.]"
            )
        else:
            lines.append(f"[exit code {result.exit_code}]")
        if any(marker in output for marker in _NO_NETWORK):
            lines.append(
                "Note: the sandbox has no network; nothing can be downloaded or installed. "
                "Work with what is installed."
            )
        return ToolResult(
            text="\n".join(lines),
            ok=result.exit_code == 0 and not result.timed_out,
            error_kind="timeout" if result.timed_out else None,
            truncated=cut or result.truncated,
            exit_code=result.exit_code,
        )
