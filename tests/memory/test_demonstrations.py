"""Demonstrations from real stored runs: what is kept, what the model is trained on."""

from __future__ import annotations

from agent.types import ChatMessage, Observation, SelfEditKind, Step, Task, ToolCall, Trajectory
from memory.demonstrations import demonstration, teaching_steps, training_chats
from memory.encoding import IGNORE, encode_chat
from tests.memory.runs import stored_runs


def test_demonstration_keeps_the_models_turns_of_a_verified_run():
    run = stored_runs()[0]
    demo = demonstration(run)
    assert demo is not None and demo.kind == SelfEditKind.DEMONSTRATION
    assert demo.source_run == run.run_id and demo.repo_id == run.repo_id
    chats = training_chats(demo)
    # localisation pick + the edit that passed; the harness steps are never targets
    assert [c[-1].role for c in chats] == ["assistant", "assistant"]
    assert chats[0][-1].content == "A"
    assert chats[1][0].content == run.steps[5].prompt[0].content


def test_the_reverted_edit_is_not_taught():
    run = stored_runs()[0]
    failed, passed = run.steps[2], run.steps[5]
    assert run.steps[4].actor == "harness" and "revert" in run.steps[4].thought
    kept = [s.index for s in teaching_steps(run)]
    assert failed.index not in kept and passed.index in kept
    replies = [m.content for m in demonstration(run).messages if m.role == "assistant"]
    assert not any(failed.message.strip()[:200] in r for r in replies)
    assert any(passed.message.strip()[:200] in r for r in replies)


def test_reply_gets_its_closing_fence_back():
    demo = demonstration(stored_runs()[0])
    edit_reply = [m for m in demo.messages if m.role == "assistant"][-1].content
    assert edit_reply.startswith("```python\n") and edit_reply.endswith("\n```")


def test_rolled_back_and_resampled_steps_are_out():
    run = stored_runs()[0]
    steps = [s.model_copy(update={"rolled_back": s.index == 5}) for s in run.steps]
    kept = [s.index for s in teaching_steps(run.model_copy(update={"steps": steps}))]
    assert 5 not in kept
    steps = [s.model_copy(update={"resampled": s.index == 1}) for s in run.steps]
    kept = [s.index for s in teaching_steps(run.model_copy(update={"steps": steps}))]
    assert 1 not in kept


def test_unverified_runs_teach_nothing():
    run = stored_runs()[0]
    assert demonstration(run.model_copy(update={"eligible_for_learning": False})) is None
    failed = run.verification.model_copy(update={"passed": False})
    assert demonstration(run.model_copy(update={"verification": failed})) is None


def test_same_run_same_id_other_repo_other_id():
    run = stored_runs()[0]
    assert demonstration(run).id == demonstration(run).id
    assert demonstration(run).id != demonstration(run.model_copy(update={"repo_id": "x"})).id


def test_labels_cover_assistant_text_only(tiny_tokenizer):
    demo = demonstration(stored_runs()[1])
    for chat in training_chats(demo):
        enc = encode_chat(tiny_tokenizer, chat, 100_000)
        labelled = tiny_tokenizer.decode([t for t in enc.labels if t != IGNORE])
        assert labelled == chat[-1].content + "<|im_end|>"


def _freeform_run() -> Trajectory:
    task = Task(id="t1", repo="r", problem_statement="fix add")
    view = ToolCall(name="view", arguments={"path": "pkg/core.py"})
    steps = [
        Step(index=0, message="Look.\n```view\npkg/core.py\n```", action=view,
             observation=Observation(text="def add(a, b): return a - b")),
        Step(index=1, message="garbage", format_error="no action"),
        Step(index=2, message="Again.\n```view\npkg/core.py\n```", action=view, resampled=True),
        Step(index=3, message="Fix.\n```edit\n...\n```",
             action=ToolCall(name="edit", arguments={"path": "pkg/core.py"}),
             observation=Observation(text="edited")),
    ]  # fmt: skip
    from agent.types import Verification

    return Trajectory(run_id="r1", task=task, repo_id="repo-x", model_id="m", backend="fake",
                      steps=steps, eligible_for_learning=True,
                      verification=Verification(command="pytest", passed=True))  # fmt: skip


def test_freeform_run_is_one_chat_in_the_agents_own_format():
    demo = demonstration(_freeform_run())
    roles = [m.role for m in demo.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert "fix add" in demo.messages[1].content
    assert demo.messages[2].content.startswith("Look.")
    assert "Result of view (ok)" in demo.messages[3].content
    assert demo.messages[-1].content.startswith("Fix.")
    assert all("garbage" not in m.content and "Again." not in m.content for m in demo.messages)
    assert len(training_chats(demo)) == 1


def test_training_chats_split_at_system_messages():
    from agent.types import SelfEdit

    msgs = [ChatMessage(role="system", content="s1"), ChatMessage(role="user", content="u1"),
            ChatMessage(role="assistant", content="a1"), ChatMessage(role="system", content="s2"),
            ChatMessage(role="user", content="u2")]  # fmt: skip
    edit = SelfEdit(id="x", repo_id="r", kind=SelfEditKind.QA, messages=msgs)
    assert [[m.content for m in c] for c in training_chats(edit)] == [["s1", "u1", "a1"]]
