"""What the model sees: the system prompt, the task, and the run so far within budget.

The conversation is *derived* from the kept steps (plus notes such as "rolled back"),
never stored separately, so a rollback or a fork cannot leave the two out of step.
Older turns are elided into one-line summaries so the prompt fits the context window;
long observations are cut in the middle with a hint on how to see more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agent.types import ChatMessage, Step, Task

SYSTEM_FREEFORM = """\
You are engram, a careful software engineer working in a git repository at /workspace.
You fix the task below by inspecting the code, editing it, and running the tests.

How to act: each reply is a short thought (one to three sentences) followed by exactly one
action. You see the action's result, then you reply again. Rules:
- Look before you edit: view the code you are about to change.
- Make the smallest change that fixes the problem. Do not rewrite unrelated code.
- Run the tests after an edit. When they pass, submit.
- Never repeat an action that already gave you its answer; do something new.

{protocol}
"""

SUMMARY_HEADER = "Earlier steps (details elided to save space):"


def system_prompt(protocol_text: str, repo_map: str | None = None) -> str:
    text = SYSTEM_FREEFORM.format(protocol=protocol_text.strip())
    if repo_map:
        text += "\nRepository outline (most relevant first):\n" + repo_map.strip() + "\n"
    return text


def task_message(task: Task) -> str:
    parts = [f"Task:\n{task.problem_statement.strip()}"]
    if task.fail_to_pass:
        shown = ", ".join(task.fail_to_pass[:8])
        more = f" (and {len(task.fail_to_pass) - 8} more)" if len(task.fail_to_pass) > 8 else ""
        parts.append(f"These tests fail now and must pass when you are done: {shown}{more}")
    return "\n\n".join(parts)


def cut_middle(text: str, limit: int, hint: str) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit * 2 // 3]
    tail = text[-(limit - len(head)) :]
    omitted = len(text) - len(head) - len(tail)
    return f"{head}\n[… {omitted} characters omitted; {hint} …]\n{tail}"


def observation_text(step: Step, limit: int) -> str:
    if step.format_error is not None:
        return f"Your reply could not be used: {step.format_error}"
    obs = step.observation
    if obs is None:
        return "(no result)"
    name = step.action.name if step.action else "?"
    status = "ok" if obs.ok else (obs.error_kind or "failed")
    hint = "narrow the command (grep, head, tail) or view a smaller window"
    notes = "".join(f"Note: {n}\n" for n in step.notes)
    return f"{notes}Result of {name} ({status}):\n" + cut_middle(obs.text, limit, hint)


def step_messages(step: Step, limit: int, native: bool) -> list[ChatMessage]:
    if native and step.action is not None and step.action.id:
        assistant = ChatMessage(role="assistant", content=step.thought, tool_calls=[step.action])
        result = ChatMessage(role="tool", content=observation_text(step, limit),
                             tool_call_id=step.action.id, name=step.action.name)  # fmt: skip
        return [assistant, result]
    return [
        ChatMessage(role="assistant", content=step.message),
        ChatMessage(role="user", content=observation_text(step, limit)),
    ]


def one_line(step: Step) -> str:
    if step.format_error is not None:
        return f"- step {step.index}: malformed reply"
    action = step.action
    args = ", ".join(
        f"{k}={str(v)[:40]!r}" for k, v in (action.arguments if action else {}).items()
    )
    obs = step.observation
    status = "ok" if obs and obs.ok else (obs.error_kind if obs else "no result")
    first = (obs.text.strip().splitlines() or [""])[0][:80] if obs else ""
    return f"- step {step.index}: {action.name if action else '?'}({args}) → {status}: {first}"


def build_messages(
    system: str,
    task: Task,
    kept: Sequence[Step],
    notes: Sequence[dict[str, Any]],
    count_tokens: Callable[[list[ChatMessage]], int],
    budget: int,
    keep_recent: int,
    observation_chars: int,
    native: bool = False,
) -> list[ChatMessage] | None:
    """The prompt for the next turn, or None when even the minimal prompt does not fit.

    `notes` are `{"after": n, "text": ...}`: a user message inserted after the n-th kept
    step. Elision shrinks the verbatim tail until the prompt fits the budget.
    """
    head = [ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=task_message(task))]  # fmt: skip
    recent = min(keep_recent, len(kept))
    while True:
        split = len(kept) - recent
        body: list[ChatMessage] = [ChatMessage(role="user", content=n["text"])
                                   for n in notes if n["after"] == 0]  # fmt: skip
        if split > 0:
            summary = "\n".join([SUMMARY_HEADER, *(one_line(s) for s in kept[:split])])
            body.append(ChatMessage(role="user", content=summary))
        for position, step in enumerate(kept, start=1):
            if position > split:
                body.extend(step_messages(step, observation_chars, native))
            body.extend(ChatMessage(role="user", content=n["text"]) for n in notes
                        if n["after"] == position and position > split)  # fmt: skip
        messages = _merge_user_turns(head + body)
        if count_tokens(messages) <= budget:
            return messages
        if recent == 0:
            return None
        recent -= 1


def _merge_user_turns(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Adjacent user messages become one (chat templates expect alternation)."""
    merged: list[ChatMessage] = []
    for message in messages:
        if merged and message.role == "user" and merged[-1].role == "user":
            merged[-1] = ChatMessage(
                role="user", content=merged[-1].content + "\n\n" + message.content
            )
        else:
            merged.append(message)
    return merged


NOTES_HEADING = "Notes about this repository, from earlier work in it:"


def with_repo_notes(system: str, notes: str | None) -> str:
    """A system prompt with memory's notes about the repository after it (unchanged
    when there are none). One wording for every policy, so a note reads the same to the
    model whichever prompt it lands in."""
    if not notes or not notes.strip():
        return system
    return f"{system.rstrip()}\n\n{NOTES_HEADING}\n{notes.strip()}\n"
