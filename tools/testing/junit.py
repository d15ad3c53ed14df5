"""pytest's JUnit XML (family xunit1) → per-test outcomes with pytest node ids.

xunit1 keeps the `file` attribute, which makes the node id recoverable: pytest writes
`classname` as the node id's path (slashes → dots, `.py` dropped) followed by any
classes, and `name` as the last part with its parameters. Same format in pytest 7.2
(Debian's, in the sandbox image) and pytest 9.

Statuses: no child → passed; <failure> → failed; <error message="collection
failure"> → a collection error; other <error> → error (setup/teardown); <skipped
type="pytest.xfail"> → xfailed; <skipped message="xfail-marked test passes
unexpectedly"> → failed (a strict xpass fails the run); other <skipped> → skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tools.types import TestOutcome

_FRAME_LINE = re.compile(r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+):(?:\s|$)")
_LOCATION = re.compile(r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+): (?P<kind>\S.*)$")
_E_LINE = re.compile(r"^E\s+(?P<text>.*)$")
# pytest's hints for a terminal user; noise in a model's context.
_NOISE = re.compile(r"^\s*(Use -v+ to get|Omitting \d+ identical items|Full diff:)")
_RANK = {"passed": 0, "xpassed": 0, "skipped": 1, "xfailed": 1, "failed": 2, "error": 3}
MESSAGE_LINES = 4
MESSAGE_CHARS = 400


class JUnitError(ValueError):
    """The file is not JUnit XML we can read."""


@dataclass
class JUnitReport:
    outcomes: list[TestOutcome] = field(default_factory=list)
    collection_errors: list[TestOutcome] = field(default_factory=list)


def _dotted(path: str) -> str:
    return re.sub(r"\.py$", "", path).replace("/", ".")


def node_id(classname: str, name: str, file: str | None) -> str:
    """Rebuild pytest's node id from a testcase's attributes."""
    if file:
        prefix = _dotted(file)
        if classname == prefix:
            return f"{file}::{name}"
        if classname.startswith(prefix + "."):
            classes = classname[len(prefix) + 1 :].split(".")
            return "::".join([file, *classes, name])
        if not classname and name == prefix:  # a module that failed to collect
            return file
    if not classname:
        return name
    return f"{classname}::{name}"


def short_message(message: str, details: str) -> str:
    """The assertion / exception in a few lines, with where it happened."""
    lines = [
        line.rstrip()
        for line in message.strip().splitlines()
        if line.strip() and not _NOISE.match(line)
    ]
    if not lines:
        e_lines = [m["text"] for line in details.splitlines() if (m := _E_LINE.match(line))]
        lines = [line for line in e_lines if line.strip()][-MESSAGE_LINES:]
    if not lines:
        tail = [line for line in details.strip().splitlines() if line.strip()]
        lines = tail[-1:] if tail else []
    text = "\n".join(lines[:MESSAGE_LINES])
    if len(lines) > MESSAGE_LINES:
        text += " …"
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS] + " …"
    where = ""
    for line in reversed(details.splitlines()):
        match = _LOCATION.match(line.strip())
        if match:
            where = f"{match['file']}:{match['line']}"
            break
    return f"{text} ({where})" if where and text else text or where


def frames_of(details: str) -> list[str]:
    """`path:line` of each traceback entry in pytest's details, outermost first."""
    out = []
    for line in details.splitlines():
        # Entries above the last one end at the colon (long style) or say `in f`.
        match = _FRAME_LINE.match(line.strip())
        if match:
            out.append(f"{match['file']}:{match['line']}")
    return out[-20:]


def _collection_message(details: str) -> str:
    e_lines = [m["text"].strip() for line in details.splitlines() if (m := _E_LINE.match(line))]
    e_lines = [line for line in e_lines if line]
    if e_lines:
        return short_message("\n".join(e_lines[-2:]), details)
    return short_message("", details)


def parse_junit(xml_text: str | bytes) -> JUnitReport:
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise JUnitError(f"not valid XML: {exc}") from exc
    report = JUnitReport()
    merged: dict[str, TestOutcome] = {}
    for case in root.iter("testcase"):
        test_id = node_id(case.get("classname", ""), case.get("name", ""), case.get("file") or None)
        try:
            duration = float(case.get("time", "0") or 0)
        except ValueError:
            duration = 0.0
        status, message, frames = "passed", "", []
        for child in case:
            tag = child.tag
            text = child.text or ""
            attr = child.get("message", "")
            if tag == "failure":
                status, message = "failed", short_message(attr, text)
                frames = frames_of(text)
            elif tag == "error" and attr == "collection failure":
                report.collection_errors.append(
                    TestOutcome(test_id=test_id, status="error", message=_collection_message(text))
                )
                status = ""
            elif tag == "error":
                status, message = "error", short_message(attr, text)
                frames = frames_of(text)
            elif tag == "skipped" and child.get("type") == "pytest.xfail":
                status, message = "xfailed", attr
            elif tag == "skipped" and "passes unexpectedly" in attr:
                status, message = "failed", "XPASS(strict): the test is marked xfail but passed"
            elif tag == "skipped":
                if attr == "collection skipped":
                    status = ""
                else:
                    status, message = "skipped", attr
        if not status:
            continue
        outcome = TestOutcome(test_id=test_id, status=status, message=message, duration_s=duration,
                              frames=frames)  # fmt: skip
        previous = merged.get(test_id)
        # A test that failed in its call and again in teardown is written twice.
        if previous is None or _RANK[outcome.status] > _RANK[previous.status]:
            merged[test_id] = outcome
    report.outcomes = list(merged.values())
    return report
