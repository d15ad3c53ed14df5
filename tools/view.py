"""`view`: a file as a numbered window, or a directory as a shallow tree.

Windows are bounded twice: by lines (`limits.view_lines`) and by characters (what
fits in an observation), and always end with where to continue (`next: start=N`),
so a model pages through a file without counting. `path:42` (as copied from a
traceback) opens the window a few lines above line 42.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sandboxes.base import PathOutsideWorkspace
from tools import files
from tools.base import ToolContext, failure, success
from tools.text import clip_line, number_width, numbered, plural
from tools.types import ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="view",
    summary="Show a file with line numbers, or list a directory.",
    description=(
        "A file is shown as a window of about 80 numbered lines from `start`; the header "
        "says which lines you see and where the next window starts. A directory is "
        "listed two levels deep with file sizes in lines."
    ),
    params=[
        ToolParam(
            name="path",
            required=False,
            description="file or directory, relative to the repository root (default: .)",
            aliases=["file", "file_path", "filepath", "filename", "dir", "directory", "name"],
        ),
        ToolParam(
            name="start",
            type="integer",
            required=False,
            description="first line to show (default 1)",
            aliases=["line", "start_line", "from", "offset", "line_number", "lineno"],
        ),
        ToolParam(
            name="end",
            type="integer",
            required=False,
            description="last line to show (default: a window of about 80 lines)",
            aliases=["end_line", "to", "stop"],
        ),
    ],
    examples=[{"path": "src/ledger/money.py", "start": 75}, {"path": "tests"}],
)

_LINE_SUFFIX = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::\d+)?$")
# How many lines above a `path:N` target the window opens.
_CONTEXT_ABOVE = 10
_MAX_COUNTED_BYTES = 256_000


class View:
    spec = SPEC

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        box = ctx.sandbox
        raw = files.clean_path_arg(box, str(args.get("path", ".")))
        start = args.get("start")
        match = _LINE_SUFFIX.match(raw)
        if match and not files.exists(box, raw) and files.exists(box, match["path"]):
            raw = match["path"]
            if start is None:
                start = max(1, int(match["line"]) - _CONTEXT_ABOVE)
        try:
            target = files.resolve(box, raw)
        except PathOutsideWorkspace:
            return failure(
                "refused", f"{raw} is outside the repository. Paths are relative to its root."
            )
        if not target.exists() and not target.is_symlink():
            return failure("not_found", files.not_found_text(box, raw))
        if target.is_dir():
            return self._directory(ctx, files.relative(box, target))
        return self._file(ctx, files.relative(box, target), start, args.get("end"))

    # -- files -------------------------------------------------------------------

    def _file(self, ctx: ToolContext, rel: str, start: int | None, end: int | None) -> ToolResult:
        try:
            text = files.read_text(ctx.sandbox, rel)
        except files.NotText as exc:
            size = files.resolve(ctx.sandbox, rel).stat().st_size
            return failure(
                "refused",
                f"{rel} cannot be shown: {exc} ({files.human_size(size)}). "
                "Use bash (for example `file` or `head -c 200`) to inspect it.",
            )
        except (OSError, PathOutsideWorkspace) as exc:
            return failure("tool_error", f"{rel} cannot be read: {exc}")
        lines = text.splitlines()
        total = len(lines)
        if total == 0:
            return success(f"{rel} is empty (0 lines).")
        first = max(1, start or 1)
        if first > total:
            return failure(
                "bad_arguments",
                f"start={first} is past the end: {rel} has {plural(total, 'line')}. "
                f"Use a start between 1 and {total}.",
            )
        limits = ctx.limits
        last_allowed = min(total, first + limits.view_lines - 1)
        if end is not None and end >= first:
            # An explicit range may be longer than the default window, within the budget.
            last_allowed = min(total, end, first + 3 * limits.view_lines - 1)
        width = number_width(last_allowed)
        budget = limits.output_chars - 120
        shown: list[str] = []
        used = 0
        for number in range(first, last_allowed + 1):
            cost = width + 3 + len(clip_line(lines[number - 1])) + 1
            if shown and used + cost > budget:
                break
            shown.append(lines[number - 1])
            used += cost
        last = first + len(shown) - 1
        if first == 1 and last == total:
            header = f"{rel} ({plural(total, 'line')}, all shown)"
        elif last == total:
            header = f"{rel}, lines {first}-{last} of {total} (end of file)"
        else:
            header = f"{rel}, lines {first}-{last} of {total} (next: start={last + 1})"
        return success(f"{header}\n{numbered(shown, first, width)}")

    # -- directories -------------------------------------------------------------

    def _directory(self, ctx: ToolContext, rel: str) -> ToolResult:
        box = ctx.sandbox
        limits = ctx.limits
        children: dict[str, list[files.Entry]] = {}
        try:
            children[rel] = files.list_dir(box, rel)
        except OSError as exc:
            return failure("tool_error", f"{rel} cannot be listed: {exc.strerror}")
        # Breadth first, so a cut drops the deepest entries rather than whole top-level dirs.
        budget = limits.list_entries - len(children[rel])
        frontier = [e for e in children[rel] if e.is_dir and not e.is_link]
        for _depth in range(1, limits.list_depth):
            next_frontier: list[files.Entry] = []
            for entry in frontier:
                try:
                    kids = files.list_dir(box, entry.rel)
                except OSError:
                    continue
                if len(kids) > budget:
                    continue
                children[entry.rel] = kids
                budget -= len(kids)
                next_frontier += [e for e in kids if e.is_dir and not e.is_link]
            frontier = next_frontier
        lines: list[str] = []
        shown = 0
        hidden = 0

        def render(parent: str, indent: int) -> None:
            nonlocal shown, hidden
            for entry in children[parent]:
                if shown >= limits.list_entries:
                    hidden += 1
                    continue
                lines.append("  " * indent + self._describe(box, entry, children))
                shown += 1
                if entry.rel in children:
                    render(entry.rel, indent + 1)

        render(rel, 0)
        where = "repository root" if rel == "." else f"{rel}/"
        head = f"{where} ({plural(len(children[rel]), 'entry', 'entries')})"
        if not children[rel]:
            return success(f"{head}: empty directory")
        text = head + "\n" + "\n".join(lines)
        if hidden:
            text += f"\n[… {hidden} more entries; view a subdirectory to see them]"
        return success(text)

    @staticmethod
    def _describe(box: Any, entry: files.Entry, listed: dict[str, list[files.Entry]]) -> str:
        name = entry.rel.rsplit("/", 1)[-1]
        if entry.is_link:
            try:
                target = os.readlink(box.workspace / entry.rel)
            except OSError:
                target = "?"
            return f"{name} -> {target}"
        if entry.is_dir:
            if entry.rel in listed:
                return f"{name}/"
            try:
                count = len(files.list_dir(box, entry.rel))
            except OSError:
                return f"{name}/"
            return f"{name}/  ({plural(count, 'entry', 'entries')})"
        if entry.size <= _MAX_COUNTED_BYTES:
            try:
                data = box.read_file(entry.rel)
                if b"\x00" not in data[:8192]:
                    count = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
                    return f"{name}  ({plural(count, 'line')})"
            except (OSError, PathOutsideWorkspace):
                pass
        return f"{name}  ({files.human_size(entry.size)})"
