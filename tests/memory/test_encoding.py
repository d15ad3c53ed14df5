"""Chat → tokens with loss on assistant tokens only; truncation that keeps whole turns."""

from __future__ import annotations

import pytest

from agent.types import ChatMessage, ToolCall
from memory.encoding import IGNORE, EncodingError, encode_chat

from .conftest import chat


def targets(tokenizer, example) -> str:
    return tokenizer.decode(
        [t for t, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE]
    )


def test_only_assistant_content_and_end_token_are_labelled(tiny_tokenizer):
    example = encode_chat(
        tiny_tokenizer,
        chat(
            ("system", "be brief"),
            ("user", "where is Money?"),
            ("assistant", "ledger/money.py"),
            ("user", "and tests?"),
            ("assistant", "tests/test_money.py"),
        ),
        max_length=1000,
    )
    assert (
        targets(tiny_tokenizer, example) == "ledger/money.py<|im_end|>tests/test_money.py<|im_end|>"
    )
    assert example.assistant_turns == 2 and not example.truncated


def test_labels_equal_input_ids_where_not_ignored(tiny_tokenizer):
    example = encode_chat(tiny_tokenizer, chat(("user", "q"), ("assistant", "a")), 1000)
    assert all(
        label in (IGNORE, tok) for tok, label in zip(example.input_ids, example.labels, strict=True)
    )
    assert len(example.labels) == len(example.input_ids)


def test_no_assistant_turn_means_no_targets(tiny_tokenizer):
    assert encode_chat(tiny_tokenizer, chat(("user", "hello")), 1000).n_targets == 0


def test_truncation_cuts_after_the_last_whole_assistant_turn(tiny_tokenizer):
    messages = chat(
        ("user", "q1"), ("assistant", "a" * 20), ("user", "q2"), ("assistant", "b" * 40)
    )
    full = encode_chat(tiny_tokenizer, messages, 1000)
    example = encode_chat(tiny_tokenizer, messages, len(full.input_ids) - 10)
    assert example.truncated and not example.cut_inside_assistant
    assert (example.kept_turns, example.assistant_turns) == (1, 2)
    assert targets(tiny_tokenizer, example) == "a" * 20 + "<|im_end|>"
    assert "dropped" in example.notes[0]


def test_a_first_turn_that_does_not_fit_is_cut_and_flagged(tiny_tokenizer):
    example = encode_chat(tiny_tokenizer, chat(("user", "q"), ("assistant", "x" * 100)), 40)
    assert example.cut_inside_assistant and len(example.input_ids) == 40
    assert example.n_targets > 0 and "cut after" in example.notes[0]


def test_a_prompt_longer_than_max_length_leaves_nothing_to_learn(tiny_tokenizer):
    example = encode_chat(tiny_tokenizer, chat(("user", "q" * 100), ("assistant", "a")), 40)
    assert example.n_targets == 0 and not example.cut_inside_assistant


class ShiftingTemplate:
    """A template that is not prefix-stable: it prints the turn count at the top."""

    def __init__(self, inner):
        self.inner = inner

    def apply_chat_template(self, messages, **kwargs):
        return f"[{len(messages)} turns]" + self.inner.apply_chat_template(messages, **kwargs)


def test_a_template_that_is_not_prefix_stable_is_refused(tiny_tokenizer):
    with pytest.raises(EncodingError, match="prefix-stable"):
        encode_chat(ShiftingTemplate(tiny_tokenizer), chat(("user", "q"), ("assistant", "a")), 100)


@pytest.mark.model
def test_qwen_template_masks_tool_calls_and_tool_output_correctly(embedded_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    messages = [
        ChatMessage(role="user", content="Where is add defined?"),
        ChatMessage(
            role="assistant",
            content="Let me look.",
            tool_calls=[ToolCall(name="view", arguments={"path": "pkg/core.py"})],
        ),
        ChatMessage(role="tool", content="def add(a, b): return a + b"),
        ChatMessage(role="assistant", content="In pkg/core.py."),
    ]
    example = encode_chat(tokenizer, messages, 4096)
    text = targets(tokenizer, example)
    assert text.startswith("Let me look.\n<tool_call>") and text.endswith(
        "In pkg/core.py.<|im_end|>"
    )
    assert '"path": "pkg/core.py"' in text
    assert "def add" not in text and "Where is add" not in text and "You are Qwen" not in text
