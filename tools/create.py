"""`create`: write a new file (parent directories made as needed).

Refuses to replace an existing file unless `overwrite: true`, because a small model
that "creates" a file it meant to edit silently throws the rest of that file away.
Python content must parse; otherwise nothing is written.
"""

from __future__ import annotations

from typing import Any

from sandboxes.base import PathOutsideWorkspace
from tools import files
from tools.base import ToolContext, failure, success
from tools.syntax import data_problem, excerpt, is_python, python_problem
from tools.text import plural
from tools.types import ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="create",
    summary="Create a new file with the given content.",
    description=(
        "Writes the whole file. An existing file is not replaced unless overwrite is true; "
        "to change part of a file use edit."
    ),
    params=[
        ToolParam(
            name="path",
            description="the new file, relative to the repository root",
            aliases=["file", "file_path", "filepath", "filename"],
        ),
        ToolParam(
            name="content",
            required=False,
            description="the file's full text",
            aliases=["text", "contents", "body", "code", "file_text", "data"],
        ),
        ToolParam(
            name="overwrite",
            type="boolean",
            required=False,
            description="replace the file if it exists (default false)",
            aliases=["force", "replace"],
        ),
    ],
    body_param="content",
    examples=[
        {
            "path": "tests/test_rounding.py",
            "content": "from ledger.money import Money\n\n\ndef test_round_half_up():\n"
            '    assert Money.parse("0.125 EUR").round() == Money.parse("0.13 EUR")\n',
        }
    ],
)


class Create:
    spec = SPEC

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        box = ctx.sandbox
        rel = files.clean_path_arg(box, str(args["path"]))
        if rel == "." or rel.endswith("/"):
            return failure("bad_arguments", "path must name a file, not a directory.")
        content = str(args.get("content", "")).replace("\r\n", "\n")
        if content and not content.endswith("\n"):
            content += "\n"
        try:
            target = files.resolve(box, rel)
        except PathOutsideWorkspace:
            return failure("refused", f"{rel} is outside the repository.")
        if target.is_dir():
            return failure("refused", f"{rel} is a directory. Give a file path inside it.")
        existed = target.exists()
        previous = 0
        if existed:
            try:
                previous = len(files.read_text(box, rel).splitlines())
            except files.NotText:
                previous = 0
            if not args.get("overwrite", False):
                return failure(
                    "refused",
                    f"{rel} already exists ({plural(previous, 'line')}); nothing was written. "
                    "To change part of it use edit; to replace all of it, send create again "
                    "with overwrite: true.",
                )
        warning = ""
        if is_python(rel, content):
            problem = python_problem(content, rel)
            if problem is not None:
                return failure(
                    "syntax_error",
                    f"Not created: the content does not parse as Python ({problem.where()}). "
                    f"Nothing was written.\n{excerpt(content, problem.line)}\n"
                    "Fix it and send create again.",
                )
        elif (problem := data_problem(rel, content)) is not None:
            warning = f"\nWarning: the content is not valid ({problem.where()})."
        try:
            box.write_file(rel, content.encode("utf-8"))
        except (OSError, PathOutsideWorkspace) as exc:
            return failure("tool_error", f"{rel} could not be written: {exc}")
        count = plural(len(content.splitlines()), "line")
        verb = (
            f"Replaced {rel} ({count}; it had {previous})"
            if existed
            else f"Created {rel} ({count})"
        )
        rel = files.relative(box, files.resolve(box, rel))
        return success(verb + "." + warning, changed_files=[rel])
