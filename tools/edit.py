"""`edit`: replace one exact piece of a file with new text.

Refusals are the point of this tool as much as edits: a SEARCH text that is not in
the file gets the closest region back (numbered, to copy exactly), and where else in
the repository that text lives; an ambiguous one gets each occurrence's line number;
an edit that would leave a parsing Python file unparsable is refused with the error
line, and the file stays as it was. A successful edit shows the edited region.
"""

from __future__ import annotations

import shlex
from typing import Any

from sandboxes.base import PathOutsideWorkspace
from tools import files
from tools.base import ToolContext, failure, success
from tools.locate import Located, Span, line_of, locate
from tools.syntax import data_problem, excerpt, is_python, python_problem
from tools.text import closest_region, cut_tail, number_width, numbered, plural
from tools.types import ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="edit",
    summary="Replace an exact piece of a file (SEARCH) with new text (REPLACE).",
    description=(
        "The SEARCH text must match the file exactly, indentation included, and occur "
        "once: copy the lines from `view` and include a neighbouring line if the text "
        "repeats. To add lines, SEARCH for a nearby line and REPLACE it with itself plus "
        "the new lines. Python files must still parse after the edit."
    ),
    params=[
        ToolParam(
            name="path",
            description="the file to change",
            aliases=["file", "file_path", "filepath", "filename"],
        ),
        ToolParam(
            name="old",
            description="the exact text to replace",
            aliases=["old_str", "old_string", "search", "find", "original", "before", "old_text"],
        ),
        ToolParam(
            name="new",
            description="the text to put in its place",
            aliases=["new_str", "new_string", "replace", "replacement", "after", "new_text"],
        ),
    ],
    body_format="search_replace",
    examples=[
        {
            "path": "src/ledger/money.py",
            "old": "        return Money(self.amount - other.amount, self.currency)",
            "new": "        return Money(self.amount + other.amount, self.currency)",
        }
    ],
)

_CONTEXT = 2
_MAX_SHOWN_LINES = 30
_MAX_OCCURRENCES = 6


class Edit:
    spec = SPEC

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        box = ctx.sandbox
        rel = files.clean_path_arg(box, str(args["path"]))
        try:
            target = files.resolve(box, rel)
        except PathOutsideWorkspace:
            return failure("refused", f"{rel} is outside the repository.")
        if not target.exists():
            return failure(
                "not_found",
                files.not_found_text(box, rel) + " To make a new file, use create.",
            )
        if target.is_dir():
            return failure("refused", f"{rel} is a directory; edit changes a file.")
        rel = files.relative(box, target)
        try:
            raw = files.read_text(box, rel)
        except files.NotText as exc:
            return failure("refused", f"{rel} cannot be edited as text: {exc}. Use bash.")
        crlf = "\r\n" in raw
        text = raw.replace("\r\n", "\n")
        old = str(args["old"]).replace("\r\n", "\n")
        new = str(args["new"]).replace("\r\n", "\n")
        if not old:
            if text:
                return failure(
                    "bad_arguments",
                    "The SEARCH part is empty. Put the existing line(s) next to where the "
                    "change goes in SEARCH, and those lines plus your change in REPLACE.",
                )
            span = Span(0, 0, new)
            located = Located([span])
        else:
            if old == new:
                return failure(
                    "bad_arguments", "SEARCH and REPLACE are identical: nothing would change."
                )
            located = locate(text, old, new)
        if not located.spans:
            return failure("not_found", self._not_found(ctx, rel, text, old))
        span = located.unique
        if span is None:
            return failure("ambiguous", self._ambiguous(rel, text, located))
        at_line_start = span.start == 0 or text[span.start - 1] == "\n"
        if not span.new and at_line_start and text[span.end : span.end + 1] == "\n":
            # Deleting whole lines: take their line break too, leaving no blank line.
            span = Span(span.start, span.end + 1, "", span.how)
        updated = text[: span.start] + span.new + text[span.end :]
        warning = ""
        if is_python(rel, updated):
            problem = python_problem(updated, rel)
            if problem is not None:
                before = python_problem(text, rel)
                if before is None:
                    return failure(
                        "syntax_error",
                        f"Edit refused: {rel} would no longer parse ({problem.where()}). "
                        f"The file is unchanged. The result would have been:\n"
                        f"{excerpt(updated, problem.line)}\n"
                        "Fix the REPLACE text (indentation, brackets, colons) and send the "
                        "edit again.",
                    )
                warning = (
                    f"\nNote: {rel} still does not parse ({problem.where()}); "
                    f"it did not parse before this edit either ({before.where()})."
                )
        elif (problem := data_problem(rel, updated)) is not None:
            warning = f"\nWarning: {rel} is no longer valid ({problem.where()})."
        data = updated.replace("\n", "\r\n") if crlf else updated
        try:
            box.write_file(rel, data.encode("utf-8"))
        except (OSError, PathOutsideWorkspace) as exc:
            return failure("tool_error", f"{rel} could not be written: {exc}")
        return success(
            self._done(rel, text, updated, span, located.how or span.how) + warning,
            changed_files=[rel],
        )

    # -- messages ----------------------------------------------------------------

    @staticmethod
    def _done(rel: str, before: str, after: str, span: Span, how: str) -> str:
        first = line_of(before, span.start)
        old_count = before.count("\n", span.start, span.end) + 1
        new_count = span.new.count("\n") + 1 if span.new else 0
        if span.new:
            what = f"replaced {plural(old_count, 'line')} at line {first} with {plural(new_count, 'line')}"
        else:
            what = f"removed text at line {first}"
        note = f" (SEARCH matched {how})" if how else ""
        lines = after.split("\n")
        lo = max(1, first - _CONTEXT)
        hi = min(len(lines), first + max(new_count, 1) - 1 + _CONTEXT)
        shown = lines[lo - 1 : hi]
        if len(shown) > _MAX_SHOWN_LINES:
            head = numbered(shown[:10], lo, number_width(hi))
            tail = numbered(shown[-10:], hi - 9, number_width(hi))
            region = f"{head}\n[… {len(shown) - 20} lines …]\n{tail}"
        else:
            region = numbered(shown, lo)
        return f"Edited {rel}: {what}{note}. Now:\n{region}"

    @staticmethod
    def _ambiguous(rel: str, text: str, located: Located) -> str:
        lines = text.split("\n")
        spans = located.spans
        numbers = [line_of(text, s.start) for s in spans]
        out = [
            f"The SEARCH text occurs {len(spans)} times in {rel}, at lines "
            f"{', '.join(map(str, numbers[:20]))}{' …' if len(numbers) > 20 else ''}. "
            "Nothing was changed. Add a line before or after it to SEARCH (and REPLACE) "
            "so that it matches one place only:"
        ]
        for number in numbers[:_MAX_OCCURRENCES]:
            lo = max(1, number - 1)
            out.append(numbered(lines[lo - 1 : number + 1], lo))
            out.append("  ---")
        return "\n".join(out[:-1] if out[-1] == "  ---" else out)

    @staticmethod
    def _not_found(ctx: ToolContext, rel: str, text: str, old: str) -> str:
        lines = text.split("\n")
        wanted = old.strip("\n").split("\n")
        out = [f"The SEARCH text is not in {rel}; nothing was changed."]
        region = closest_region(lines, wanted)
        if region is not None and region[2] >= 0.5:
            lo, hi, _ratio = region
            where = f"line is {lo + 1}" if hi - lo == 1 else f"lines are {lo + 1}-{hi}"
            out.append(
                f"The closest {where}; copy exactly (indentation included, without the "
                "line numbers) into SEARCH:"
            )
            out.append(numbered(lines[lo:hi], lo + 1))
        else:
            out.append(f"Nothing in {rel} resembles it. View the file and copy lines from it.")
        elsewhere = _elsewhere(ctx, rel, wanted)
        if elsewhere:
            out.append(f"That text does appear in: {elsewhere}.")
        text_out, _ = cut_tail("\n".join(out), ctx.limits.output_chars)
        return text_out


def _elsewhere(ctx: ToolContext, rel: str, wanted: list[str]) -> str:
    """Other files holding the SEARCH text's most distinctive line (a wrong path?)."""
    candidates = sorted((line.strip() for line in wanted), key=len, reverse=True)
    if not candidates or len(candidates[0]) < 8:
        return ""
    needle = candidates[0]
    result = ctx.sandbox.execute(
        f"git grep -I -n -F --untracked -e {shlex.quote(needle)} -- . 2>/dev/null | head -n 5",
        timeout=30,
    )
    places = []
    for line in result.output.splitlines():
        path, _, rest = line.partition(":")
        number = rest.partition(":")[0]
        if path and path != rel and number.isdigit():
            places.append(f"{path} line {number}")
    return ", ".join(places[:3])
