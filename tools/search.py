"""`search`: text or a regular expression across the repository, grouped by file.

Runs `git grep` in the sandbox (tracked and untracked files, .gitignore respected,
binaries skipped; plain `grep -r` where the workspace is not a git repository). The
capping happens inside the sandbox (awk keeps the first matches of the first files
and counts the rest), so a pattern that matches everywhere still returns a short,
complete-looking answer with the counts of what was left out.

For small models the default is a literal search (`def add(` is not a broken regex);
when that finds nothing, a pattern that is a valid regex is retried as one, and then
case-insensitively, and the result says which retry matched.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from sandboxes.base import PathOutsideWorkspace
from tools import files
from tools.base import ToolContext, failure, success
from tools.text import plural
from tools.types import ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="search",
    summary="Find text in the repository's files; shows matching lines by file.",
    description=(
        "Searches for the text literally unless regex is true. Results are grouped by file "
        "with line numbers; long result lists are cut, with counts of what was left out."
    ),
    params=[
        ToolParam(
            name="pattern",
            description="the text to find (a regular expression if regex: true)",
            aliases=["query", "text", "term", "string", "search", "keyword", "q"],
        ),
        ToolParam(
            name="path",
            required=False,
            description="a directory, file or glob such as *.py to search in (default: .)",
            aliases=["dir", "directory", "file", "in", "where", "folder", "include"],
        ),
        ToolParam(
            name="regex",
            type="boolean",
            required=False,
            description="treat pattern as a regular expression (Perl style)",
            aliases=["is_regex", "regexp", "use_regex"],
        ),
        ToolParam(
            name="ignore_case",
            type="boolean",
            required=False,
            description="match upper and lower case alike",
            aliases=["case_insensitive", "i", "nocase"],
        ),
    ],
    body_param="pattern",
    examples=[{"pattern": "def sum_money"}, {"path": "tests", "pattern": "Money.parse("}],
)

_LINE_CHARS = 160
_OTHER_FILES = 15
# Characters that make a pattern look like it was meant as a regular expression.
_REGEX_HINT = re.compile(r"[\\\[\]()|*+?{}^$]|\.\*")

# awk program: records are `file\0line\0text` (git grep -z); groups are contiguous.
_AWK = r"""
BEGIN { FS = "\0" }
{
  if ($1 != cur) { cur = $1; nf++; n = 0; order[nf] = $1 }
  n++; cnt[nf] = n; total++
  if (nf <= MF && n <= MM) {
    t = substr($0, length($1) + length($2) + 3)
    if (length(t) > W) t = substr(t, 1, W) "..."
    printf "M\t%d\t%s\t%s\n", nf, $2, t
  }
}
END {
  for (i = 1; i <= nf && i <= MF + OF; i++) printf "F\t%d\t%d\t%s\n", i, cnt[i], order[i]
  printf "T\t%d\t%d\n", nf, total
}
"""


@dataclass
class _Found:
    files: list[tuple[str, int]] = field(default_factory=list)  # (path, matches), in order
    lines: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # file no -> (n, text)
    total_files: int = 0
    total_matches: int = 0
    error: str = ""
    timed_out: bool = False


def _command(pattern: str, pathspec: str, regex: bool, ignore_case: bool, limits: Any) -> str:
    mode = "-P" if regex else "-F"
    flags = [mode, *(["-i"] if ignore_case else [])]
    glob = any(c in pathspec for c in "*?[")
    literal = "" if glob else "--literal-pathspecs "
    awk = (
        f"awk -v MF={limits.search_files} -v MM={limits.search_matches_per_file} "
        f"-v W={_LINE_CHARS} -v OF={_OTHER_FILES} {shlex.quote(_AWK)}"
    )
    grep_flags = " ".join(flags)
    quoted = shlex.quote(pattern)
    spec = shlex.quote(pathspec)
    # git grep where the workspace is a repository; grep -r otherwise. Both emit
    # `file\0line:text` differently, so grep's output is reshaped to git's form.
    git_cmd = (
        f"git -c core.quotePath=false {literal}grep -I -n -z --untracked --no-color "
        f"{grep_flags} -e {quoted} -- {spec}"
    )
    grep_mode = "-E" if regex else "-F"
    plain_cmd = (
        f"grep -r -I -n -Z {grep_mode} {'-i ' if ignore_case else ''}"
        f"--exclude-dir=.git --exclude-dir=__pycache__ -e {quoted} -- {spec} "
        r"| sed 's/^\([^\x00]*\)\x00\([0-9]*\):/\1\x00\2\x00/'"
    )
    return (
        "set -o pipefail; "
        "if git rev-parse --is-inside-work-tree >/dev/null 2>&1; "
        f"then {git_cmd} 2>&1 1>&3 | sed 's/^/E\\t/' >&2; "
        f"else {plain_cmd}; fi 3>&1 | {awk}; printf 'R\\t%s\\n' \"$?\""
    )


def _parse(output: str) -> tuple[_Found, int | None]:
    found = _Found()
    code: int | None = None
    errors: list[str] = []
    for line in output.splitlines():
        kind, _, rest = line.partition("\t")
        parts = rest.split("\t", 2)
        if kind == "M" and len(parts) == 3:
            found.lines.setdefault(int(parts[0]), []).append((parts[1], parts[2]))
        elif kind == "F" and len(parts) == 3:
            found.files.append((parts[2].removeprefix("./"), int(parts[1])))
        elif kind == "T" and len(parts) >= 2:
            found.total_files, found.total_matches = int(parts[0]), int(parts[1])
        elif kind == "R" and parts and parts[0].strip().lstrip("-").isdigit():
            code = int(parts[0])
        elif kind == "E":
            errors.append(rest)
        elif line.strip():
            errors.append(line)
    found.error = "\n".join(errors).strip()
    return found, code


class Search:
    spec = SPEC

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        pattern = str(args["pattern"])
        # A pattern is one line; models sometimes end it with a stray newline.
        pattern = pattern.strip("\n")
        if not pattern.strip():
            return failure("bad_arguments", "The pattern is empty: give the text to find.")
        if "\n" in pattern:
            return failure(
                "bad_arguments",
                "search finds one line at a time: give a single line of the text "
                "(the most distinctive one).",
            )
        box = ctx.sandbox
        path = files.clean_path_arg(box, str(args.get("path", ".")))
        glob = any(c in path for c in "*?[")
        if not glob:
            try:
                files.resolve(box, path)
            except PathOutsideWorkspace:
                return failure("refused", f"{path} is outside the repository.")
            if not files.exists(box, path):
                return failure("not_found", files.not_found_text(box, path))
        regex = bool(args.get("regex", False))
        ignore_case = bool(args.get("ignore_case", False))
        attempts = [(regex, ignore_case, "")]
        if not regex and _REGEX_HINT.search(pattern) and _valid_regex(pattern):
            attempts.append(
                (True, ignore_case, "no literal match; matched as a regular expression")
            )
        if not ignore_case:
            last_regex = attempts[-1][0]
            attempts.append((last_regex, True, "no exact match; matched ignoring case"))
        found = _Found()
        note = ""
        for use_regex, use_case, why in attempts:
            result = box.execute(
                _command(pattern, path, use_regex, use_case, ctx.limits),
                timeout=ctx.limits.bash_timeout_s,
            )
            found, code = _parse(result.output)
            if result.timed_out:
                return failure(
                    "timeout",
                    f"The search took longer than {ctx.limits.bash_timeout_s:.0f} s. "
                    "Narrow it with path: (a directory or a glob such as src/*.py).",
                )
            if found.total_matches == 0 and code not in (0, 1, None):
                return failure("bad_arguments", self._error_text(found.error, use_regex))
            if found.total_matches:
                note = why
                break
        if not found.total_matches:
            where = "" if path == "." else f" in {path}"
            tried = "as text, as a regular expression" if len(attempts) > 2 else "as text"
            kind = "regular expression" if regex else "text"
            return success(
                f"No matches for {kind} {pattern!r}{where} (tried {tried}, any case). "
                "Try a shorter or different pattern, or another path."
            )
        return success(self._render(pattern, path, found, note, ctx))

    @staticmethod
    def _error_text(error: str, regex: bool) -> str:
        detail = error.splitlines()[-1] if error else "git grep failed"
        detail = detail.removeprefix("fatal: ")
        if regex:
            return (
                f"The regular expression is invalid ({detail}). Escape special characters "
                "with a backslash, or drop regex: true to search for the text literally."
            )
        return f"The search failed: {detail}"

    @staticmethod
    def _render(pattern: str, path: str, found: _Found, note: str, ctx: ToolContext) -> str:
        where = "" if path == "." else f" in {path}"
        head = (
            f"{plural(found.total_matches, 'match', 'matches')} in "
            f"{plural(found.total_files, 'file')} for {pattern!r}{where}"
        )
        out = [head + (f" ({note})" if note else "") + ":"]
        shown_files = 0
        budget = ctx.limits.output_chars - 200
        used = len(out[0])
        for number, (name, count) in enumerate(found.files, start=1):
            if number not in found.lines:
                break
            shown = found.lines[number]
            more = f" ({count} matches, first {len(shown)} shown)" if count > len(shown) else ""
            block = [name + more] + [f"  {n}: {text.rstrip()}" for n, text in shown]
            cost = sum(len(b) + 1 for b in block)
            if shown_files and used + cost > budget:
                break
            out += block
            used += cost
            shown_files += 1
        rest = found.files[shown_files:]
        if rest:
            listed = ", ".join(f"{name} ({count})" for name, count in rest[:_OTHER_FILES])
            left_files = found.total_files - shown_files
            left_matches = found.total_matches - sum(c for _, c in found.files[:shown_files])
            out.append(
                f"[{plural(left_files, 'more file')} with "
                f"{plural(left_matches, 'match', 'matches')} not shown: {listed}"
                + (" …" if left_files > len(rest[:_OTHER_FILES]) else "")
                + ". Narrow the search with path:]"
            )
        return "\n".join(out)


def _valid_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True
