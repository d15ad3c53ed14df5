"""A verified run as training text: the chat the model saw, its own replies as targets.

`demonstration(trajectory)` turns one verified trajectory into one self-edit of kind
DEMONSTRATION. What is kept:

- only steps that count towards the final run: rolled-back and resampled steps are out;
- only the model's own turns: harness steps (the small policy's test runs, reverts,
  submit) are never targets, since the model did not write them;
- no turn that failed to parse (format errors) and no edit that was later undone (a
  harness edit that restores exactly what the model's edit replaced), nor, for the
  small policy, a localisation pick that a later pick superseded: training on a
  step the run itself threw away would teach the detour.

The prompt of each turn is the one the model saw at inference:

- policies that build each turn's prompt themselves (the small policy) store it on the
  step (`Step.prompt`); the demonstration is that prompt plus the reply. One run gives
  several independent chats, stored back to back in one self-edit; `training_chats`
  splits them again at each system message, so each training example is exactly one
  inference call.
- free-form runs derive their conversation from the kept steps (`agent.prompting`): the
  same builder is used here with everything verbatim (no elision). The system prompt is
  rebuilt from the tool protocol; the repo outline a run had in it is not stored in the
  trajectory and is left out (a documented difference from inference).

Not guaranteed: that a free-form demonstration matches inference token for token (the
run's own prompts were elided to fit its context window; training sees them whole).
"""

from __future__ import annotations

from agent.types import (
    ChatMessage,
    SelfEdit,
    SelfEditKind,
    Step,
    Trajectory,
    content_hash,
)

# A run whose demonstration would have no assistant turn teaches nothing.
MIN_TURNS = 1


def edit_id(repo_id: str, kind: SelfEditKind | str, messages: list[ChatMessage]) -> str:
    """Content hash of a self-edit: the same text for the same repo is the same edit."""
    payload = {
        "repo": repo_id,
        "kind": str(kind),
        "messages": [m.model_dump(mode="json", exclude_none=True) for m in messages],
    }
    return content_hash(payload)[:24]


def _undone(steps: list[Step]) -> set[int]:
    """Indices of model edits that a later harness edit reverted exactly."""
    undone: set[int] = set()
    for i, step in enumerate(steps):
        if step.actor != "model" or step.action is None or step.action.name != "edit":
            continue
        args = step.action.arguments
        for later in steps[i + 1 :]:
            if later.actor != "harness" or later.action is None or later.action.name != "edit":
                continue
            back = later.action.arguments
            if back.get("path") == args.get("path") and back.get("old") == args.get("new") \
                    and back.get("new") == args.get("old"):  # fmt: skip
                undone.add(step.index)
                break
    return undone


def _superseded_picks(steps: list[Step]) -> set[int]:
    """Small policy: a localisation pick (a model `view`) followed by another pick."""
    picks = [
        s.index
        for s in steps
        if s.actor == "model" and s.action is not None and s.action.name == "view"
    ]
    return set(picks[:-1])


def teaching_steps(trajectory: Trajectory) -> list[Step]:
    """The model's kept steps that belong in a demonstration, in order."""
    kept = trajectory.kept_steps
    drop = _undone(kept)
    if trajectory.policy == "small":
        drop |= _superseded_picks(kept)
    return [
        s
        for s in kept
        if s.actor == "model"
        and s.format_error is None
        and s.index not in drop
        and (s.message.strip() or s.action is not None)
    ]


def _reply(step: Step) -> str:
    text = step.message
    # The small policy's edit replies stop at a stop string that swallows the closing
    # fence; put it back so the model learns a complete block and then to stop.
    if text.count("```") % 2 == 1:
        text = text.rstrip("\n") + "\n```"
    return text


def _prompted_chats(steps: list[Step]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for step in steps:
        assert step.prompt is not None
        messages.extend(step.prompt)
        messages.append(ChatMessage(role="assistant", content=_reply(step)))
    return messages


def _freeform_chat(trajectory: Trajectory, steps: list[Step]) -> list[ChatMessage]:
    from agent.prompting import build_messages, system_prompt
    from tools.protocol import render_protocol
    from tools.registry import ToolRegistry

    native = any(s.action is not None and s.action.id for s in steps)
    protocol = render_protocol(ToolRegistry().specs(), "native" if native else "text")
    # Everything verbatim: no budget, no elision, observations at full length.
    messages = build_messages(
        system_prompt(protocol), trajectory.task, steps, [], lambda _m: 0, 1 << 30,
        keep_recent=max(1, len(steps)), observation_chars=1 << 30, native=native,
    )  # fmt: skip
    assert messages is not None
    # The last observation follows the last reply; nothing learns from it.
    while messages and messages[-1].role != "assistant":
        messages.pop()
    return messages


def demonstration(trajectory: Trajectory) -> SelfEdit | None:
    """The verified run as one DEMONSTRATION self-edit, or None when it cannot teach
    (not verified/eligible, or no model turn survives the filters)."""
    if not (trajectory.eligible_for_learning and trajectory.resolved):
        return None
    steps = teaching_steps(trajectory)
    if len(steps) < MIN_TURNS:
        return None
    if all(s.prompt is not None for s in steps):
        messages = _prompted_chats(steps)
    elif any(s.prompt is not None for s in steps):
        # Mixed runs (a policy that sometimes builds its own prompt) keep only the turns
        # whose prompt is known exactly.
        messages = _prompted_chats([s for s in steps if s.prompt is not None])
    else:
        messages = _freeform_chat(trajectory, steps)
    if not any(m.role == "assistant" for m in messages):
        return None
    return SelfEdit(
        id=edit_id(trajectory.repo_id, SelfEditKind.DEMONSTRATION, messages),
        repo_id=trajectory.repo_id,
        kind=SelfEditKind.DEMONSTRATION,
        messages=messages,
        source_run=trajectory.run_id,
        source=trajectory.source,
    )


def training_chats(edit: SelfEdit) -> list[list[ChatMessage]]:
    """The training examples of a self-edit: its messages split at each system message
    after the first (one example per inference call), keeping only chats with an
    assistant turn."""
    chats: list[list[ChatMessage]] = []
    current: list[ChatMessage] = []
    for message in edit.messages:
        if message.role == "system" and current:
            chats.append(current)
            current = []
        current.append(message)
    if current:
        chats.append(current)
    return [c for c in chats if any(m.role == "assistant" for m in c)]
